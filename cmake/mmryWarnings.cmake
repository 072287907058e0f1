# mmryWarnings.cmake: compiler settings for mmry's *own* targets (tests, examples, benchmarks,
# tools, the header check). Never applied to the INTERFACE target mmry::mmry: a consumer must not
# inherit -Werror or sanitizers from us.
#
#   mmry_target_warnings(<target>)    -Wall -Wextra -Wpedantic (+ -Werror if MMRY_WERROR)
#   mmry_target_sanitizers(<target>)  -fsanitize=${MMRY_SANITIZE} at compile and link time
#   mmry_target_defaults(<target>)    both of the above (in that order: the sanitizer part turns
#                                     off warnings that are unreliable on instrumented code)
#
# Expects the cache variables MMRY_WERROR (BOOL) and MMRY_SANITIZE (STRING, e.g.
# "address,undefined" or "thread"; empty = none), defined by the top-level CMakeLists.txt.

include_guard(GLOBAL)

function(mmry_target_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive- $<$<BOOL:${MMRY_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                                             $<$<BOOL:${MMRY_WERROR}>:-Werror>)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      # GCC 12 at -O3 reports -Wrestrict inside libstdc++ for "literal" + std::to_string(n)
      # (GCC bug 105329, fixed in 13): a false positive in correct code, in every test file.
      target_compile_options(${target} PRIVATE -Wno-restrict)
    endif()
  endif()
endfunction()

function(mmry_target_sanitizers target)
  if(NOT MMRY_SANITIZE)
    return()
  endif()
  if(MSVC)
    # MSVC only knows AddressSanitizer.
    target_compile_options(${target} PRIVATE /fsanitize=${MMRY_SANITIZE})
    return()
  endif()
  # -fno-sanitize-recover=all: the first UBSan report aborts the test instead of scrolling by.
  set(flags -fsanitize=${MMRY_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_compile_options(${target} PRIVATE ${flags})
  target_link_options(${target} PRIVATE ${flags})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's flow-based warnings are unreliable on instrumented code: with -O1 and ASan it reports
    # libstdc++'s own std::regex/std::function as maybe-uninitialized (GCC PR 105562 and kin).
    # The uninstrumented build still checks mmry's code with this warning.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    if(MMRY_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 11)
      # "atomic_thread_fence is not supported with -fsanitize=thread", from Boost and libstdc++.
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
  endif()
endfunction()

function(mmry_target_defaults target)
  mmry_target_warnings(${target})
  mmry_target_sanitizers(${target})
endfunction()
