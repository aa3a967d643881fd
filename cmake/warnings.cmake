# Warning flags for bx's own code (not for generated or third-party code).
function(bx_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wno-unused-parameter -Wvla)
  if(BX_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
