#include "tools/toml_guard.h"

#include <cstdint>
#include <cstdio>

#include "engine/error.h"

namespace mmp::cli {
namespace {

bool trips_whitespace_check(char32_t c) {
  if (c <= 0xA0 || c >= 0xFEFF || c == 0x3000) return false;
  const uint32_t block = (static_cast<uint32_t>(c) - 0xA0) / 0x3FA;  // toml++'s table of 0x3FA-wide blocks
  return block == 0 || block == 11 || block == 63;
}

// The code point of the UTF-8 sequence at text[i] and its length, or 0 and 1 for a byte
// that starts no valid sequence (toml++ reports those itself).
char32_t decode(const std::string& text, size_t i, size_t& length) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  if (length == 0 || i + length > text.size()) {
    length = 1;
    return 0;
  }
  char32_t c = length == 1 ? lead : lead & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      length = 1;
      return 0;
    }
    c = (c << 6) | (byte(i + k) & 0x3F);
  }
  return c;
}

}  // namespace

std::string guard_toml_text(const std::string& text, const std::string& source) {
  enum class In { tokens, comment, basic, literal, multiline_basic, multiline_literal } in = In::tokens;
  std::string out;
  out.reserve(text.size());
  int line = 1;
  for (size_t i = 0; i < text.size();) {
    const char ch = text[i];
    const auto starts = [&](const char* s) { return text.compare(i, std::char_traits<char>::length(s), s) == 0; };
    size_t length = 1;
    const char32_t c = decode(text, i, length);
    if (c != 0 && trips_whitespace_check(c) && in != In::comment) {
      MMP_CHECK(in == In::basic || in == In::multiline_basic, source, ":", line, ": character U+",
                str(std::hex, std::uppercase, static_cast<uint32_t>(c)),
                " outside a \"double-quoted\" string or a comment (the TOML reader cannot take it there)");
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04X", static_cast<unsigned>(c));
      out += escape;
      i += length;
      continue;
    }
    size_t take = length;
    switch (in) {
      case In::tokens:
        if (ch == '#') in = In::comment;
        else if (starts("\"\"\"")) in = In::multiline_basic, take = 3;
        else if (starts("'''")) in = In::multiline_literal, take = 3;
        else if (ch == '"') in = In::basic;
        else if (ch == '\'') in = In::literal;
        break;
      case In::comment:
        if (ch == '\n') in = In::tokens;
        break;
      case In::basic:
      case In::multiline_basic:
        if (ch == '\\' && i + 1 < text.size()) {  // an escape: \" does not end the string
          size_t escaped_length = 1;
          const char32_t escaped = decode(text, i + 1, escaped_length);
          MMP_CHECK(escaped == 0 || !trips_whitespace_check(escaped), source, ":", line, ": '\\' before U+",
                    str(std::hex, std::uppercase, static_cast<uint32_t>(escaped)), " is no escape");
          take = 1 + escaped_length;
        }
        else if (in == In::basic && (ch == '"' || ch == '\n')) in = In::tokens;
        else if (in == In::multiline_basic && starts("\"\"\"")) in = In::tokens, take = 3;
        break;
      case In::literal:
        if (ch == '\'' || ch == '\n') in = In::tokens;
        break;
      case In::multiline_literal:
        if (starts("'''")) in = In::tokens, take = 3;
        break;
    }
    for (size_t k = i; k < i + take && k < text.size(); ++k) line += text[k] == '\n';
    out.append(text, i, take);
    i += take;
  }
  return out;
}

}  // namespace mmp::cli
