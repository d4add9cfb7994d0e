# Turns a binary file into a C++ header holding it as a byte array.
# cmake -DINPUT=file.o -DOUTPUT=file.h -DSYMBOL=kName -P embed.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
get_filename_component(name "${INPUT}" NAME)
file(WRITE "${OUTPUT}" "// Generated from ${name} by oracle_kernel/embed.cmake: do not edit.\n#pragma once\nalignas(8) inline constexpr unsigned char ${SYMBOL}[] = {\n${bytes}\n};\n")
