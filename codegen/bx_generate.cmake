# bx_generate(<target> HEADER <file> [INTERFACE <name>] [OUTPUT_DIR <dir>] [STUB] [SKELETON]
#             [INCLUDE_DIRS <dir>...] [DEFINES <macro>...])
#
# Runs bxgen on the interface header <file> and adds the generated code to <target>:
#   <iface>_stub.{h,c} (the client) and <iface>_skeleton.{h,c} (the server), in OUTPUT_DIR
#   (default: ${CMAKE_CURRENT_BINARY_DIR}/bxgen/<iface>).
# - <iface> is INTERFACE, else the header's name without extension (calc.h -> calc); bxgen
#   checks that the header declares BX_INTERFACE(<iface>).
# - STUB or SKELETON adds only that side's .c file (default: both).
# - The header's directory and OUTPUT_DIR are added to <target>'s include path; the header is
#   read with <target>'s include directories and compile definitions, plus INCLUDE_DIRS and
#   DEFINES. Several calls for one header and OUTPUT_DIR (a skeleton for a server and a stub for
#   a client in one directory) share one bxgen rule, read with the first call's target's flags.
# - The generated .c files compile with -Wall -Wextra -Werror.
# - bxgen reruns when the header or anything it includes changes (a depfile from libclang);
#   generated files are rewritten only when their text changes.
# Call it in the directory that creates <target>.

# bxgen writes absolute paths into its depfile; with CMP0116 CMake makes them what Ninja expects.
# (A function runs with the policies in force where it was defined.)
if(POLICY CMP0116)
  cmake_policy(SET CMP0116 NEW)
endif()

function(bx_generate target)
  cmake_parse_arguments(BXG "STUB;SKELETON" "HEADER;INTERFACE;OUTPUT_DIR"
    "INCLUDE_DIRS;DEFINES" ${ARGN})
  if(NOT BXG_HEADER)
    message(FATAL_ERROR "bx_generate(${target}): HEADER is required")
  endif()
  if(BXG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "bx_generate(${target}): unexpected arguments ${BXG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET bx::bxgen)
    message(FATAL_ERROR "bx_generate(${target}): bxgen is not available (built without libclang?)")
  endif()
  get_filename_component(header "${BXG_HEADER}" ABSOLUTE)
  get_filename_component(header_dir "${header}" DIRECTORY)
  if(BXG_INTERFACE)
    set(iface ${BXG_INTERFACE})
  else()
    get_filename_component(iface "${header}" NAME_WE)
  endif()
  if(BXG_OUTPUT_DIR)
    get_filename_component(outdir "${BXG_OUTPUT_DIR}" ABSOLUTE BASE_DIR ${CMAKE_CURRENT_BINARY_DIR})
  else()
    set(outdir ${CMAKE_CURRENT_BINARY_DIR}/bxgen/${iface})
  endif()

  set(stub_c ${outdir}/${iface}_stub.c)
  set(skel_c ${outdir}/${iface}_skeleton.c)
  set(generated ${outdir}/${iface}_stub.h ${stub_c} ${outdir}/${iface}_skeleton.h ${skel_c})
  set(stamp ${outdir}/${iface}.bxgen.stamp)
  set(depfile ${outdir}/${iface}.bxgen.d)

  set(flags)
  foreach(dir IN LISTS BXG_INCLUDE_DIRS)
    get_filename_component(dir "${dir}" ABSOLUTE)
    list(APPEND flags -I${dir})
  endforeach()
  foreach(def IN LISTS BXG_DEFINES)
    list(APPEND flags -D${def})
  endforeach()
  set(tgt_inc "$<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>")
  set(tgt_def "$<TARGET_PROPERTY:${target},COMPILE_DEFINITIONS>")
  list(APPEND flags "$<$<BOOL:${tgt_inc}>:-I$<JOIN:${tgt_inc},$<SEMICOLON>-I>>"
                    "$<$<BOOL:${tgt_def}>:-D$<JOIN:${tgt_def},$<SEMICOLON>-D>>")
  if(BX_GENERATE_INCLUDE_DIR) # in bx's own build tree
    list(APPEND flags -I${BX_GENERATE_INCLUDE_DIR})
  endif()

  set(dep_args)
  if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.20)
    set(dep_args DEPFILE ${depfile})
  elseif(CMAKE_GENERATOR MATCHES "Make")
    set(dep_args IMPLICIT_DEPENDS C ${header})
  endif()
  # One rule per output directory, behind a target of its own: a second call for the same
  # header and directory (a server's skeleton and a client's stub side by side) reuses it.
  string(MD5 outdir_hash "${outdir}")
  string(SUBSTRING "${outdir_hash}" 0 12 outdir_hash)
  set(gen_target bxgen_${iface}_${outdir_hash})
  if(NOT TARGET ${gen_target})
    add_custom_command(
      OUTPUT ${stamp}
      BYPRODUCTS ${generated}
      COMMAND bx::bxgen -o ${outdir} --interface ${iface} --depfile ${depfile} --stamp ${stamp}
              ${flags} ${header}
      DEPENDS ${header} bx::bxgen
      ${dep_args}
      COMMENT "bxgen: generating ${iface} stub and skeleton from ${BXG_HEADER}"
      COMMAND_EXPAND_LISTS
      VERBATIM)
    add_custom_target(${gen_target} DEPENDS ${stamp})
  endif()
  add_dependencies(${target} ${gen_target})

  set(sources)
  if(BXG_STUB OR NOT BXG_SKELETON)
    list(APPEND sources ${stub_c})
  endif()
  if(BXG_SKELETON OR NOT BXG_STUB)
    list(APPEND sources ${skel_c})
  endif()
  set_source_files_properties(${generated} PROPERTIES GENERATED TRUE)
  set_source_files_properties(${sources} PROPERTIES COMPILE_OPTIONS "-Wall;-Wextra;-Werror")
  target_sources(${target} PRIVATE ${sources})
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${outdir}>
    $<BUILD_INTERFACE:${header_dir}>)
endfunction()
