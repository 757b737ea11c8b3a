// Record encoding inside LMDB: cereal's portable binary archive. Each record
// type declares its version with CEREAL_CLASS_VERSION and reads older
// versions in its serialize(archive, version); cereal stores the version
// with the record. Signatures never cover these bytes (see spec/).
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <istream>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>

#include "common/result.h"

namespace hearth::storage {

namespace codec_detail {

// A read-only stream buffer over bytes that stay where they are.
class ViewBuf : public std::streambuf {
 public:
  void Reset(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());
    setg(p, p, p + bytes.size());
  }
};

// An output stream buffer appending to a string.
class AppendBuf : public std::streambuf {
 public:
  void Reset(std::string* out) { out_ = out; }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_->append(s, size_t(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof()))
      out_->push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }

 private:
  std::string* out_ = nullptr;
};

// One stream of each kind per thread: constructing a std::istream costs
// more than decoding a small record (locale set-up), and every request
// decodes dozens. An archive is still made per record: cereal stores each
// type's version once per archive.
struct Streams {
  ViewBuf in_buf;
  AppendBuf out_buf;
  std::istream in{&in_buf};
  std::ostream out{&out_buf};
};

inline Streams& ThreadStreams() {
  // On the heap, not in thread_local storage itself: a thread's static TLS
  // is zeroed when the thread starts, used or not, and 688 bytes more of
  // it cost every one of 1,000 sync-waiting threads a page (4 KiB).
  thread_local std::unique_ptr<Streams> streams;
  if (!streams) streams = std::make_unique<Streams>();
  return *streams;
}

}  // namespace codec_detail

template <typename Record>
std::string Encode(const Record& record) {
  std::string bytes;
  auto& s = codec_detail::ThreadStreams();
  s.out_buf.Reset(&bytes);
  s.out.clear();
  {
    cereal::PortableBinaryOutputArchive archive(s.out);
    archive(record);
  }
  s.out_buf.Reset(nullptr);
  return bytes;
}

template <typename Record>
Result<Record> Decode(std::string_view bytes) {
  auto& s = codec_detail::ThreadStreams();
  s.in_buf.Reset(bytes);
  s.in.clear();
  try {
    cereal::PortableBinaryInputArchive archive(s.in);
    Record record;
    archive(record);
    s.in_buf.Reset({});
    return record;
  } catch (const std::exception& e) {
    s.in_buf.Reset({});
    return Error::Internal(std::string("corrupt record: ") + e.what());
  }
}

}  // namespace hearth::storage
