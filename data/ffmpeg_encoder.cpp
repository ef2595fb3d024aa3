// Writing WAV and video files with FFmpeg's encoders and muxers. Part of the media
// plugin (media_plugin_abi.h).
#include "data/ffmpeg_codecs.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "data/ffmpeg_check.h"
#include "engine/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

namespace mmp::ffmpeg {
namespace {

// An output file with one stream, its encoder, and the muxing loop.
class Writer {
 public:
  Writer(const std::string& path, AVCodecID codec_id) : path_(path) {
    AVFormatContext* raw = nullptr;
    MMP_AV_CHECK(avformat_alloc_output_context2(&raw, nullptr, nullptr, path.c_str()), path,
                 "cannot choose a container for this file name");
    format_.reset(raw);
    const AVCodec* codec = avcodec_find_encoder(codec_id);
    MMP_CHECK(codec != nullptr, path, ": this FFmpeg has no ", avcodec_get_name(codec_id), " encoder");
    stream_ = avformat_new_stream(raw, nullptr);
    MMP_CHECK(stream_ != nullptr, path, ": cannot add a stream");
    codec_.reset(avcodec_alloc_context3(codec));
    MMP_CHECK(codec_ != nullptr, path, ": out of memory");
  }
  ~Writer() {
    if (format_ && opened_) avio_closep(&format_->pb);
  }

  AVCodecContext* codec() { return codec_.get(); }

  void open() {
    if (format_->oformat->flags & AVFMT_GLOBALHEADER) codec_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    MMP_AV_CHECK(avcodec_open2(codec_.get(), codec_->codec, nullptr), path_, "cannot open the encoder");
    MMP_AV_CHECK(avcodec_parameters_from_context(stream_->codecpar, codec_.get()), path_, "bad encoder parameters");
    stream_->time_base = codec_->time_base;
    MMP_AV_CHECK(avio_open(&format_->pb, path_.c_str(), AVIO_FLAG_WRITE), path_, "cannot create the file");
    opened_ = true;
    MMP_AV_CHECK(avformat_write_header(format_.get(), nullptr), path_, "cannot write the header");
  }

  // Encodes `frame` (null: flush) and writes the packets it yields.
  void encode(AVFrame* frame) {
    MMP_AV_CHECK(avcodec_send_frame(codec_.get(), frame), path_, "encoding failed");
    std::unique_ptr<AVPacket, void (*)(AVPacket*)> packet(av_packet_alloc(), [](AVPacket* p) { av_packet_free(&p); });
    for (;;) {
      const int rc = avcodec_receive_packet(codec_.get(), packet.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      MMP_AV_CHECK(rc, path_, "encoding failed");
      av_packet_rescale_ts(packet.get(), codec_->time_base, stream_->time_base);
      packet->stream_index = stream_->index;
      MMP_AV_CHECK(av_interleaved_write_frame(format_.get(), packet.get()), path_, "writing failed");
    }
  }

  void finish() {
    encode(nullptr);
    MMP_AV_CHECK(av_write_trailer(format_.get()), path_, "cannot finish the file");
  }

 private:
  struct FormatFreer {
    void operator()(AVFormatContext* c) const { avformat_free_context(c); }
  };
  struct CodecFreer {
    void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
  };
  std::string path_;
  std::unique_ptr<AVFormatContext, FormatFreer> format_;
  std::unique_ptr<AVCodecContext, CodecFreer> codec_;
  AVStream* stream_ = nullptr;
  bool opened_ = false;
};

struct FrameFreer {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};

}  // namespace

void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  Writer w(path, AV_CODEC_ID_PCM_S16LE);
  AVCodecContext* c = w.codec();
  c->sample_fmt = AV_SAMPLE_FMT_S16;
  c->sample_rate = sample_rate;
  c->time_base = {1, sample_rate};
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  MMP_AV_CHECK(av_channel_layout_copy(&c->ch_layout, &mono), path, "bad channel layout");
  w.open();
  std::unique_ptr<AVFrame, FrameFreer> frame(av_frame_alloc());
  constexpr int kChunk = 4096;
  for (size_t start = 0; start < samples.size(); start += kChunk) {
    const int n = static_cast<int>(std::min<size_t>(kChunk, samples.size() - start));
    frame->nb_samples = n;
    frame->format = AV_SAMPLE_FMT_S16;
    frame->sample_rate = sample_rate;
    MMP_AV_CHECK(av_channel_layout_copy(&frame->ch_layout, &mono), path, "bad channel layout");
    MMP_AV_CHECK(av_frame_get_buffer(frame.get(), 0), path, "out of memory");
    int16_t* dst = reinterpret_cast<int16_t*>(frame->data[0]);
    for (int i = 0; i < n; ++i)
      dst[i] = static_cast<int16_t>(std::lround(std::clamp(samples[start + i], -1.0f, 1.0f) * 32767.0f));
    frame->pts = static_cast<int64_t>(start);
    w.encode(frame.get());
    av_frame_unref(frame.get());
  }
  w.finish();
}

void write_video(const std::string& path, const std::vector<Image>& frames, int fps) {
  MMP_CHECK(!frames.empty(), path, ": no frames to write");
  const int width = frames[0].width, height = frames[0].height;
  const bool flv = path.size() >= 4 && path.substr(path.size() - 4) == ".flv";
  Writer w(path, flv ? AV_CODEC_ID_FLV1 : AV_CODEC_ID_MPEG4);
  AVCodecContext* c = w.codec();
  c->width = width;
  c->height = height;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->time_base = {1, fps};
  c->framerate = {fps, 1};
  c->gop_size = fps;
  c->bit_rate = 400000;
  w.open();
  std::unique_ptr<SwsContext, void (*)(SwsContext*)> scaler(
      sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr,
                     nullptr, nullptr),
      sws_freeContext);
  MMP_CHECK(scaler != nullptr, path, ": cannot convert RGB to YUV");
  std::unique_ptr<AVFrame, FrameFreer> frame(av_frame_alloc());
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = width;
  frame->height = height;
  MMP_AV_CHECK(av_frame_get_buffer(frame.get(), 0), path, "out of memory");
  for (size_t i = 0; i < frames.size(); ++i) {
    MMP_CHECK(frames[i].width == width && frames[i].height == height, path, ": frame ", i, " has another size");
    MMP_AV_CHECK(av_frame_make_writable(frame.get()), path, "out of memory");
    const uint8_t* src[1] = {frames[i].rgb.data()};
    const int src_stride[1] = {3 * width};
    sws_scale(scaler.get(), src, src_stride, 0, height, frame->data, frame->linesize);
    frame->pts = static_cast<int64_t>(i);
    w.encode(frame.get());
  }
  w.finish();
}

}  // namespace mmp::ffmpeg
