// Decoding audio and video with FFmpeg's libraries (any container and codec they know:
// wav, flv, mp4, ...). Part of the media plugin (media_plugin_abi.h).
#include "data/ffmpeg_codecs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

#include "data/ffmpeg_check.h"
#include "engine/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace mmp::ffmpeg {
namespace {

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecFreer {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFreer {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct SwrFreer {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
struct SwsFreer {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

// Bytes in memory as FFmpeg's I/O: reads and seeks over them, and the I/O context
// with its buffer, freed after the format context that reads through it.
struct MemoryReader {
  const uint8_t* bytes;
  int64_t size, at = 0;
  static int read(void* opaque, uint8_t* buffer, int wanted) {
    auto* m = static_cast<MemoryReader*>(opaque);
    const int64_t n = std::min<int64_t>(wanted, m->size - m->at);
    if (n <= 0) return AVERROR_EOF;
    std::memcpy(buffer, m->bytes + m->at, static_cast<size_t>(n));
    m->at += n;
    return static_cast<int>(n);
  }
  static int64_t seek(void* opaque, int64_t offset, int whence) {
    auto* m = static_cast<MemoryReader*>(opaque);
    if (whence & AVSEEK_SIZE) return m->size;
    const int64_t base = (whence & ~AVSEEK_FORCE) == SEEK_CUR ? m->at : (whence & ~AVSEEK_FORCE) == SEEK_END ? m->size : 0;
    if (offset > m->size - base || base + offset < 0) return AVERROR(EINVAL);
    m->at = base + offset;
    return m->at;
  }
};
struct IoFreer {
  void operator()(AVIOContext* io) const {
    av_freep(&io->buffer);
    avio_context_free(&io);
  }
};

// An opened stream of one kind with its decoder.
struct Input {
  std::unique_ptr<MemoryReader> memory;
  std::unique_ptr<AVIOContext, IoFreer> io;  // declared before `format`, so freed after it
  std::unique_ptr<AVFormatContext, FormatCloser> format;
  std::unique_ptr<AVCodecContext, CodecFreer> codec;
  int stream = -1;
};

// FFmpeg allocates what headers announce, checked at times only against other parts of
// the same header (a WAV's INFO subchunk of 740 MB inside a LIST chunk claiming 1.7 GB,
// found by the media fuzzer). No block it allocates may exceed this, so such a header
// fails an allocation (FFmpeg then drops the tag or refuses the file) instead of taking
// the memory. It holds any frame mmp decodes: an 8192 x 8192 plane of 16-bit samples is
// 128 MiB.
constexpr size_t kMaxFFmpegBlock = size_t{256} << 20;

Input open_input(const MediaSource& source, AVMediaType type) {
  static std::once_flag limit_set;
  std::call_once(limit_set, [] { av_max_alloc(kMaxFFmpegBlock); });
  const std::string& path = source.name;
  Input in;
  AVFormatContext* raw = nullptr;
  if (source.bytes) {
    MMP_CHECK(source.size > 0, path, ": empty file");
    MMP_CHECK(source.size <= static_cast<size_t>(INT64_MAX), path, ": too large");
    in.memory = std::make_unique<MemoryReader>(MemoryReader{source.bytes, static_cast<int64_t>(source.size)});
    constexpr int kBuffer = 1 << 16;
    auto* buffer = static_cast<unsigned char*>(av_malloc(kBuffer));
    MMP_CHECK(buffer != nullptr, path, ": out of memory for reading");
    in.io.reset(avio_alloc_context(buffer, kBuffer, 0, in.memory.get(), &MemoryReader::read, nullptr,
                                   &MemoryReader::seek));
    if (!in.io) av_free(buffer);
    MMP_CHECK(in.io != nullptr, path, ": out of memory for reading");
    raw = avformat_alloc_context();
    MMP_CHECK(raw != nullptr, path, ": out of memory for the demuxer");
    raw->pb = in.io.get();
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  } else {
    MMP_CHECK(std::filesystem::exists(path), path, ": no such file");
    MMP_CHECK(std::filesystem::is_regular_file(path), path, ": not a file");
    MMP_CHECK(std::filesystem::file_size(path) > 0, path, ": empty file");
  }
  // Container detection reads at most 64 KB: every format the datasets use announces
  // itself in its header, and the default 5 MB makes probing cost more than decoding.
  // For the same reason the codec check of a stream (WAV asks whether its PCM is really
  // MP3 or AC-3) looks at the first packet only, not at up to 2500.
  AVDictionary* options = nullptr;
  av_dict_set(&options, "probesize", "65536", 0);
  av_dict_set(&options, "max_probe_packets", "1", 0);
  // On failure avformat_open_input frees the context it was given.
  const int opened = avformat_open_input(&raw, source.bytes ? nullptr : path.c_str(), nullptr, &options);
  av_dict_free(&options);
  MMP_AV_CHECK(opened, path, "cannot open as media");
  in.format.reset(raw);
  MMP_AV_CHECK(avformat_find_stream_info(raw, nullptr), path, "cannot read stream information (corrupt or truncated?)");
  const AVCodec* decoder = nullptr;
  in.stream = av_find_best_stream(raw, type, -1, -1, &decoder, 0);
  MMP_CHECK(in.stream >= 0 && decoder, path, ": no ", type == AVMEDIA_TYPE_AUDIO ? "audio" : "video",
            " stream that FFmpeg can decode");
  in.codec.reset(avcodec_alloc_context3(decoder));
  MMP_CHECK(in.codec != nullptr, path, ": out of memory for the decoder");
  MMP_AV_CHECK(avcodec_parameters_to_context(in.codec.get(), raw->streams[in.stream]->codecpar), path,
               "bad codec parameters");
  // A frame header of a few bytes can announce 8216x25093 pixels; the decoder refuses such
  // a frame before allocating it.
  if (type == AVMEDIA_TYPE_VIDEO) in.codec->max_pixels = kMaxImagePixels;
  MMP_AV_CHECK(avcodec_open2(in.codec.get(), decoder, nullptr), path, "cannot open the decoder");
  return in;
}

// Feeds every packet of the chosen stream to the decoder and hands each decoded frame
// to `on_frame`, draining the decoder at the end. Returns the number of frames.
template <class OnFrame>
int64_t decode_all(Input& in, const std::string& path, OnFrame&& on_frame) {
  std::unique_ptr<AVPacket, PacketFreer> packet(av_packet_alloc());
  std::unique_ptr<AVFrame, FrameFreer> frame(av_frame_alloc());
  int64_t frames = 0;
  const std::string damage = in.codec->codec_type == AVMEDIA_TYPE_VIDEO
                                 ? "corrupt data, or a frame larger than " + std::to_string(kMaxImagePixels) + " pixels?"
                                 : "corrupt data?";
  auto receive = [&] {
    for (;;) {
      const int rc = avcodec_receive_frame(in.codec.get(), frame.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      MMP_AV_CHECK(rc, path, "decoding failed (" + damage + ")");
      // The decoder conceals damage (grey blocks, silence) rather than failing.
      MMP_CHECK(frame->decode_error_flags == 0 && !(frame->flags & AV_FRAME_FLAG_CORRUPT), path,
                ": corrupt data (the decoder had to conceal damage in frame ", frames, ")");
      on_frame(frame.get());
      ++frames;
      av_frame_unref(frame.get());
    }
  };
  for (;;) {
    const int rc = av_read_frame(in.format.get(), packet.get());
    if (rc == AVERROR_EOF) break;
    MMP_AV_CHECK(rc, path, "reading failed (truncated file?)");
    if (packet->stream_index == in.stream) {
      // The demuxer marks a packet it could not read whole: a file cut short.
      MMP_CHECK(!(packet->flags & AV_PKT_FLAG_CORRUPT), path,
                ": truncated or corrupt (a packet of its stream ends early)");
      const int sent = avcodec_send_packet(in.codec.get(), packet.get());
      av_packet_unref(packet.get());
      // A corrupt packet is an error of the file: name it rather than skip it silently.
      MMP_AV_CHECK(sent, path, "the decoder rejected a packet (" + damage + ")");
      receive();
    } else {
      av_packet_unref(packet.get());
    }
  }
  MMP_AV_CHECK(avcodec_send_packet(in.codec.get(), nullptr), path, "cannot flush the decoder");
  receive();
  return frames;
}

}  // namespace

std::vector<float> decode_audio(const MediaSource& source, int sample_rate) {
  const std::string& path = source.name;
  MMP_CHECK(sample_rate > 0, path, ": bad sample rate ", sample_rate);
  Input in = open_input(source, AVMEDIA_TYPE_AUDIO);
  const int channels = in.codec->ch_layout.nb_channels;
  MMP_CHECK(channels >= 1, path, ": audio without channels");
  // Planar float at the file's rate first, so the channels can be averaged as librosa does.
  AVChannelLayout layout = in.codec->ch_layout;
  SwrContext* raw = nullptr;
  MMP_AV_CHECK(swr_alloc_set_opts2(&raw, &layout, AV_SAMPLE_FMT_FLTP, in.codec->sample_rate, &layout,
                                   in.codec->sample_fmt, in.codec->sample_rate, 0, nullptr),
               path, "cannot set up the sample converter");
  std::unique_ptr<SwrContext, SwrFreer> to_float(raw);
  MMP_AV_CHECK(swr_init(to_float.get()), path, "cannot set up the sample converter");
  std::vector<float> mono;
  std::vector<std::vector<float>> planes(channels);
  auto convert = [&](const uint8_t** input, int count) {
    const int room = swr_get_out_samples(to_float.get(), count);
    if (room <= 0) return;
    for (auto& p : planes) p.resize(room);
    std::vector<uint8_t*> out(channels);
    for (int c = 0; c < channels; ++c) out[c] = reinterpret_cast<uint8_t*>(planes[c].data());
    const int got = swr_convert(to_float.get(), out.data(), room, input, count);
    MMP_AV_CHECK(got, path, "sample conversion failed");
    for (int i = 0; i < got; ++i) {
      float total = 0;
      for (int c = 0; c < channels; ++c) total += planes[c][i];
      mono.push_back(total / static_cast<float>(channels));
    }
  };
  decode_all(in, path, [&](AVFrame* f) {
    // The converter reads the layout the decoder announced; a stream that changes it
    // midway would be read wrongly.
    MMP_CHECK(f->format == in.codec->sample_fmt && f->ch_layout.nb_channels == channels &&
                  f->sample_rate == in.codec->sample_rate,
              path, ": the audio changes its sample format, channels or rate midway (not supported)");
    convert(const_cast<const uint8_t**>(f->extended_data), f->nb_samples);
  });
  convert(nullptr, 0);  // flush
  MMP_CHECK(!mono.empty(), path, ": no audio samples decoded");
  if (in.codec->sample_rate == sample_rate) return mono;

  // Resample the mono signal.
  AVChannelLayout mono_layout = AV_CHANNEL_LAYOUT_MONO;
  raw = nullptr;
  MMP_AV_CHECK(swr_alloc_set_opts2(&raw, &mono_layout, AV_SAMPLE_FMT_FLT, sample_rate, &mono_layout, AV_SAMPLE_FMT_FLT,
                                   in.codec->sample_rate, 0, nullptr),
               path, "cannot set up the resampler");
  std::unique_ptr<SwrContext, SwrFreer> resampler(raw);
  MMP_AV_CHECK(swr_init(resampler.get()), path, "cannot set up the resampler");
  const int64_t expected = av_rescale_rnd(static_cast<int64_t>(mono.size()), sample_rate, in.codec->sample_rate, AV_ROUND_UP);
  std::vector<float> out(expected + 256);
  const uint8_t* src = reinterpret_cast<const uint8_t*>(mono.data());
  uint8_t* dst = reinterpret_cast<uint8_t*>(out.data());
  int got = swr_convert(resampler.get(), &dst, static_cast<int>(out.size()), &src, static_cast<int>(mono.size()));
  MMP_AV_CHECK(got, path, "resampling failed");
  int64_t total = got;
  dst = reinterpret_cast<uint8_t*>(out.data() + total);
  got = swr_convert(resampler.get(), &dst, static_cast<int>(out.size() - total), nullptr, 0);
  MMP_AV_CHECK(got, path, "resampling failed");
  total += got;
  out.resize(std::min<int64_t>(total, expected));
  return out;
}

constexpr double kMaxVideoSeconds = 3600;

std::vector<Image> decode_video_frames(const MediaSource& source, double fps) {
  const std::string& path = source.name;
  MMP_CHECK(fps > 0 && fps <= 1000, path, ": bad frame rate ", fps);
  Input in = open_input(source, AVMEDIA_TYPE_VIDEO);
  const AVRational time_base = in.format->streams[in.stream]->time_base;
  const int64_t start = in.format->streams[in.stream]->start_time == AV_NOPTS_VALUE
                            ? 0
                            : in.format->streams[in.stream]->start_time;
  // Candidate frames kept per output instant: the nearest decoded frame wins.
  std::vector<Image> frames;
  std::vector<double> distance;
  std::unique_ptr<SwsContext, SwsFreer> scaler;
  int64_t index = 0;
  const AVRational rate = in.format->streams[in.stream]->avg_frame_rate;
  const double frame_duration = rate.num > 0 && rate.den > 0 ? 1.0 / av_q2d(rate) : 0.0;
  double end = 0;  // where the last decoded frame ends
  decode_all(in, path, [&](AVFrame* f) {
    const int64_t pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    const double t = pts != AV_NOPTS_VALUE ? (pts - start) * av_q2d(time_base)
                                           : static_cast<double>(index) / av_q2d(in.codec->framerate);
    ++index;
    // Clips are seconds long; a time past an hour (or none) is a damaged timestamp, which
    // would otherwise ask for an output frame at every instant up to it.
    MMP_CHECK(std::isfinite(t) && t <= kMaxVideoSeconds, path, ": frame ", index, " is stamped at ", t,
              " s (corrupt timestamps? mmp reads videos up to ", kMaxVideoSeconds, " s)");
    end = std::max(end, t + frame_duration);
    const int64_t slot = std::max<int64_t>(0, std::llround(t * fps));
    const double d = std::fabs(t - static_cast<double>(slot) / fps);
    if (slot < static_cast<int64_t>(frames.size()) && distance[slot] <= d) return;
    // The same converter while the frames keep their size and format (a stream may change them).
    scaler.reset(sws_getCachedContext(scaler.release(), f->width, f->height, static_cast<AVPixelFormat>(f->format),
                                      f->width, f->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr));
    MMP_CHECK(scaler != nullptr, path, ": cannot convert its pixel format to RGB");
    Image img;
    img.width = f->width;
    img.height = f->height;
    // libswscale's vector code writes past the end of the last row of a narrow image (up
    // to 45 bytes, measured over 19 pixel formats, widths 1 to 200 and 7 heights; the
    // media fuzzer found it with a 6-pixel-wide FLV frame): room for that, cut off after.
    // Marked bytes at the room's end tell if a conversion ever reaches them.
    constexpr size_t kScalerOverrun = 256, kMarked = 64;
    constexpr uint8_t kMark = 0xA5;
    const size_t bytes = static_cast<size_t>(f->width) * f->height * 3;
    img.rgb.resize(bytes + kScalerOverrun, kMark);
    uint8_t* dst[1] = {img.rgb.data()};
    const int dst_stride[1] = {3 * f->width};
    MMP_CHECK(sws_scale(scaler.get(), f->data, f->linesize, 0, f->height, dst, dst_stride) == f->height, path,
              ": converting frame ", index, " to RGB failed");
    MMP_CHECK(std::all_of(img.rgb.end() - kMarked, img.rgb.end(), [](uint8_t b) { return b == kMark; }), path,
              ": converting frame ", index, " (", f->width, "x", f->height,
              ") to RGB wrote past the room left for libswscale (an mmp bug: please report it)");
    img.rgb.resize(bytes);
    if (slot >= static_cast<int64_t>(frames.size())) {
      frames.resize(slot + 1);
      distance.resize(slot + 1, 1e300);
    }
    frames[slot] = std::move(img);
    distance[slot] = d;
  });
  // Only instants inside the video: a frame at t shows until t + its duration, and
  // rounding the last frames' times must not add an instant after the end (as
  // `ffmpeg -vf fps=N` does not).
  if (frame_duration > 0 && !frames.empty())
    frames.resize(static_cast<size_t>(
        std::clamp(std::ceil(end * fps - 1e-9), 1.0, static_cast<double>(frames.size()))));
  // Instants no frame landed near (a variable frame rate) take the previous frame.
  for (size_t k = 1; k < frames.size(); ++k)
    if (frames[k].rgb.empty()) frames[k] = frames[k - 1];
  MMP_CHECK(!frames.empty() && !frames[0].rgb.empty(), path, ": no video frames decoded");
  return frames;
}

}  // namespace mmp::ffmpeg
