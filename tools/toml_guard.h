#pragma once
// Text for toml++ that cannot reach its undefined behaviour. toml++ 3.3 (Debian 12) asks
// of characters between tokens and in keys and strings whether they are whitespace, and
// for U+00A1..U+0499 (Latin-1 letters such as é, Greek, Cyrillic), U+2F0E..U+3307 but
// U+3000 (CJK punctuation, kana) and U+FB26..U+FEFE its answer runs into
// __builtin_unreachable() (found by fuzz/config_fuzzer.cpp). Those characters are kept
// in comments, written as \uXXXX escapes in "double-quoted" strings (the same value),
// and refused anywhere else with the file, line and character.
#include <string>

namespace mmp::cli {

std::string guard_toml_text(const std::string& text, const std::string& source);

}  // namespace mmp::cli
