# Debian packages with CPack (make deb): three packages from the install components.
#   libbx      lib    libbx.so.0 and libbx_msgbox_compat.so.0
#   libbx-dev  dev    headers, the .so links, bxgen, the CMake package, pkg-config files, bx.js
#   bx-tools   tools  bxd (with its status page) and bxctl
# Their Depends come from dpkg-shlibdeps, plus the packages among themselves.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME bx)
set(CPACK_PACKAGE_VENDOR "bx")
set(CPACK_PACKAGE_CONTACT "bx maintainers <bx@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
if(NOT DEFINED CPACK_DEBIAN_PACKAGE_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  # libbx.so.0 is ours: the build tree has it (the tools need it).
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/lib)
endif()
set(CPACK_DEBIAN_LIB_PACKAGE_NAME libbx)
# lws loads its libuv event-loop plugin at run time: no ELF dependency names it.
set(CPACK_DEBIAN_LIB_PACKAGE_DEPENDS "libwebsockets-evlib-uv")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libbx-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libuv1-dev, libcjson-dev, libwebsockets-dev, libsodium-dev, libsqlite3-dev, libclang-common-14-dev")
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME bx-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
include(CPack)
cpack_add_component(lib DISPLAY_NAME "libbx" DESCRIPTION "bx shared libraries")
cpack_add_component(dev DISPLAY_NAME "libbx-dev" DESCRIPTION "bx headers, bxgen, CMake and
pkg-config files" DEPENDS lib)
cpack_add_component(tools DISPLAY_NAME "bx-tools" DESCRIPTION "bxd, the bx hub, and bxctl"
  DEPENDS lib)
