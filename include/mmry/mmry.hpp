#pragma once
// The umbrella header: every public header of mmry. Include the single headers you need instead
// to keep compile times down (mmry/store.hpp does not pull in the ciphers).

#include <mmry/arena/heap.hpp>
#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/arena/stats.hpp>
#include <mmry/bytes.hpp>
#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/cipher/none.hpp>
#include <mmry/cipher/xchacha20_poly1305.hpp>
#include <mmry/codec/value.hpp>
#include <mmry/compress/none.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/concepts.hpp>
#include <mmry/error.hpp>
#include <mmry/fold/none.hpp>
#include <mmry/format/record.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/handle.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/index/ordered.hpp>
#include <mmry/key.hpp>
#include <mmry/listing.hpp>
#include <mmry/metadata.hpp>
#include <mmry/options.hpp>
#include <mmry/path/latest.hpp>
#include <mmry/store.hpp>
#include <mmry/traits.hpp>
#include <mmry/version.hpp>
#include <mmry/view.hpp>
