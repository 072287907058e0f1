# bench/smoke: runs `mmry-bench --smoke --json JSON` (MMRY_BENCH_N comes from the test's
# environment) and checks that the JSON Lines file has one well-formed object per line and every
# metric of the harness at least once, each with a finite number (durable_put also with `threads`).
#   cmake -DBENCH=<mmry-bench> -DJSON=<file> -P smoke.cmake

cmake_minimum_required(VERSION 3.21)

foreach(var BENCH JSON)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "smoke.cmake needs -D${var}=...")
  endif()
endforeach()

file(REMOVE "${JSON}")
execute_process(COMMAND "${BENCH}" --smoke --json "${JSON}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mmry-bench --smoke failed (${rc}):\n${err}\n${out}")
endif()
if(NOT EXISTS "${JSON}")
  message(FATAL_ERROR "mmry-bench --smoke wrote no ${JSON}")
endif()

set(required small_put small_get bytes_per_entry codec_put codec_get codec_ratio raw_put raw_get
             range_read full_get open read_scaling put_under_reads fold_stored_fraction fold_dedup_ratio fold_put
             fold_get dict_ratio dict_stored_ratio durable_put recovery_ms backup restore
             backup_incremental_fraction compact compact_size_ratio)
file(STRINGS "${JSON}" lines)
set(seen "")
foreach(line IN LISTS lines)
  foreach(field metric system unit)
    string(JSON v ERROR_VARIABLE e GET "${line}" ${field})
    if(e OR v STREQUAL "")
      message(FATAL_ERROR "line without a '${field}': ${line}")
    endif()
  endforeach()
  string(JSON type ERROR_VARIABLE e TYPE "${line}" value)
  if(e OR NOT type STREQUAL "NUMBER")
    message(FATAL_ERROR "line whose value is not a number: ${line}")
  endif()
  string(JSON metric GET "${line}" metric)
  if(metric STREQUAL "durable_put")
    string(JSON threads ERROR_VARIABLE e GET "${line}" threads)
    if(e OR NOT threads MATCHES "^[1-9][0-9]*$")
      message(FATAL_ERROR "durable_put line without a 'threads' count: ${line}")
    endif()
  endif()
  list(APPEND seen ${metric})
endforeach()
set(missing "")
foreach(m IN LISTS required)
  if(NOT m IN_LIST seen)
    list(APPEND missing ${m})
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "metrics missing from ${JSON}: ${missing}\n${out}")
endif()
list(LENGTH lines n)
message(STATUS "bench/smoke: ${n} measurements, every metric present")
