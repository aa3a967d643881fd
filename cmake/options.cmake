# Build options for bx.
option(BX_BUILD_TESTS "Build the cmocka test suite" ON)
option(BX_BUILD_EXAMPLES "Build the examples" ON)
option(BX_BUILD_BENCH "Build bx-bench (needs nng, ZeroMQ, valgrind)" ON)
option(BX_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(BX_FUZZ "Build the fuzz targets as libFuzzer programs (needs clang)" OFF)
option(BX_WERROR "Treat compiler warnings as errors" ON)

if(BX_SANITIZE)
  set(BX_SAN_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${BX_SAN_FLAGS})
  add_link_options(${BX_SAN_FLAGS})
endif()

if(BX_FUZZ)
  set(BX_SAN_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer)
  add_compile_options(${BX_SAN_FLAGS} -fsanitize=fuzzer-no-link)
  add_link_options(${BX_SAN_FLAGS})
endif()
