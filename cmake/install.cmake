# Installation layout (cmake --install) and the Debian package (cpack -G DEB).
# Included from the root CMakeLists.txt, after the triaged and triagectl
# targets (whose install(TARGETS) rule is there).
#
#   bin/                    triaged, triagectl
#   <unitdir>/              triaged.service (/usr/lib/systemd/system under /usr)
#   lib/sysusers.d/         triaged.conf
#   lib/tmpfiles.d/         triaged.conf
#   share/triaged/          lexicons, stopwords, training, kb, templates, web
#   <sysconfdir>/triaged/   triaged.json (/etc/triaged under /usr)
#   share/man/man{1,5,8}/   triagectl.1, triaged.json.5, triaged.8

include(GNUInstallDirs)

# systemd's folders: the distribution's under /usr (Debian 12's pkg-config
# still names the unmerged /lib, which is the same folder), else under the
# prefix so that a test install never writes outside DESTDIR/prefix.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  pkg_get_variable(_pc_unitdir systemd systemdsystemunitdir)
  pkg_get_variable(_pc_sysusersdir systemd sysusersdir)
  pkg_get_variable(_pc_tmpfilesdir systemd tmpfilesdir)
  set(_unitdir "/usr/lib/systemd/system")
  if(_pc_unitdir MATCHES "^/usr/")
    set(_unitdir "${_pc_unitdir}")
  endif()
  set(_sysusersdir "/usr/lib/sysusers.d")
  if(_pc_sysusersdir MATCHES "^/usr/")
    set(_sysusersdir "${_pc_sysusersdir}")
  endif()
  set(_tmpfilesdir "/usr/lib/tmpfiles.d")
  if(_pc_tmpfilesdir MATCHES "^/usr/")
    set(_tmpfilesdir "${_pc_tmpfilesdir}")
  endif()
else()
  set(_unitdir "lib/systemd/system")
  set(_sysusersdir "lib/sysusers.d")
  set(_tmpfilesdir "lib/tmpfiles.d")
endif()
set(TRIAGED_SYSTEMD_UNITDIR "${_unitdir}" CACHE STRING "where triaged.service is installed")
set(TRIAGED_SYSUSERSDIR "${_sysusersdir}" CACHE STRING "where the sysusers.d entry is installed")
set(TRIAGED_TMPFILESDIR "${_tmpfilesdir}" CACHE STRING "where the tmpfiles.d entry is installed")

# The unit and the example configuration name the installed paths.
set(_gen "${CMAKE_BINARY_DIR}/install-gen")
file(READ "${PROJECT_SOURCE_DIR}/systemd/triaged.service" _unit)
string(REPLACE "/usr/bin/triaged" "${CMAKE_INSTALL_FULL_BINDIR}/triaged" _unit "${_unit}")
string(REPLACE "/etc/triaged/" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/triaged/" _unit "${_unit}")
file(WRITE "${_gen}/triaged.service" "${_unit}")
file(READ "${PROJECT_SOURCE_DIR}/conf/triaged.json" _json)
string(REGEX REPLACE "\"data_dir\": \"[^\"]*\"" "\"data_dir\": \"${CMAKE_INSTALL_FULL_DATADIR}/triaged\""
       _json "${_json}")
file(WRITE "${_gen}/triaged.json" "${_json}")
# Re-run the configuration when a template changes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  "${PROJECT_SOURCE_DIR}/systemd/triaged.service" "${PROJECT_SOURCE_DIR}/conf/triaged.json")

install(FILES "${_gen}/triaged.service" DESTINATION "${TRIAGED_SYSTEMD_UNITDIR}")
install(FILES systemd/triaged.sysusers DESTINATION "${TRIAGED_SYSUSERSDIR}" RENAME triaged.conf)
install(FILES systemd/triaged.tmpfiles DESTINATION "${TRIAGED_TMPFILESDIR}" RENAME triaged.conf)

# The configuration is the administrator's: mode 0640 (it names password
# files and servers), and a conffile in the package.
install(FILES "${_gen}/triaged.json" DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/triaged"
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

foreach(_dir lexicons stopwords training kb templates)
  install(DIRECTORY "conf/${_dir}" DESTINATION "${CMAKE_INSTALL_DATADIR}/triaged")
endforeach()
# The web console's pages (static_dir defaults to data_dir/web).
install(DIRECTORY web/ DESTINATION "${CMAKE_INSTALL_DATADIR}/triaged/web")

install(FILES docs/triaged.8 DESTINATION "${CMAKE_INSTALL_MANDIR}/man8")
install(FILES docs/triagectl.1 DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
install(FILES docs/triaged.json.5 DESTINATION "${CMAKE_INSTALL_MANDIR}/man5")

# ---- the Debian package ----
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "triaged")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "triaged")
set(CPACK_PACKAGE_CONTACT "triaged maintainers <maintainers@triaged.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "customer-service ticketing and triage daemon for a shared support mailbox")
set(CPACK_PACKAGE_DESCRIPTION
    "triaged reads a support mailbox over IMAP, turns each mail into a ticket, triages it (category, priority, sentiment, language, spam) with its reasons, proposes replies from a knowledge base and keeps SLA clocks; agents approve replies with triagectl.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "mail")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# The runtime libraries: computed with their versions by dpkg-shlibdeps
# (dpkg-dev) when available, else as Debian 12 names them.
find_program(DPKG_SHLIBDEPS dpkg-shlibdeps)
if(DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libetpan20, libcurl3-gnutls, libgnutls30, libsqlite3-0, libutf8proc2, libcjson1, libstemmer0d, libsystemd0, libical3, libmicrohttpd12, libsodium23, systemd")
endif()
# The paths compiled into the programs and written into the unit and the
# configuration follow the build's prefix: a package is built from a /usr
# build only (cmake -DCMAKE_INSTALL_PREFIX=/usr), else cpack stops.
file(WRITE "${_gen}/cpack-config.cmake"
  "if(CPACK_GENERATOR STREQUAL \"DEB\" AND NOT \"${CMAKE_INSTALL_PREFIX}\" STREQUAL \"/usr\")\n"
  "  message(FATAL_ERROR \"the Debian package needs a build configured with -DCMAKE_INSTALL_PREFIX=/usr (this one: ${CMAKE_INSTALL_PREFIX})\")\n"
  "endif()\n")
set(CPACK_PROJECT_CONFIG_FILE "${_gen}/cpack-config.cmake")
# The packaged prefix is /usr whatever the build's prefix: the maintainer
# scripts and the conffile list name those paths.
file(WRITE "${_gen}/deb/conffiles" "/etc/triaged/triaged.json\n")
file(WRITE "${_gen}/deb/postinst" [=[#!/bin/sh
# Creates the triaged user and its state folder, then lets systemd see the unit.
set -e
if [ "$1" = configure ]; then
	systemd-sysusers triaged.conf >/dev/null 2>&1 || true
	systemd-tmpfiles --create triaged.conf >/dev/null 2>&1 || true
	# The unit's ConfigurationDirectoryMode=0750 keeps others out of
	# /etc/triaged; the triaged group must still read it.
	if getent group triaged >/dev/null; then
		chgrp triaged /etc/triaged /etc/triaged/triaged.json 2>/dev/null || true
		chmod 0750 /etc/triaged 2>/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
fi
exit 0
]=])
file(WRITE "${_gen}/deb/prerm" [=[#!/bin/sh
# Stops the service before its files go.
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	systemctl stop triaged.service >/dev/null 2>&1 || true
fi
exit 0
]=])
file(CHMOD "${_gen}/deb/postinst" "${_gen}/deb/prerm"
     PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ
                 WORLD_EXECUTE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_gen}/deb/conffiles;${_gen}/deb/postinst;${_gen}/deb/prerm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
