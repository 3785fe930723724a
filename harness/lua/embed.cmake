# embed.cmake - write prelude.lua into a C file as a byte array, so that
# the program needs no file beside it. Run as:
#   cmake -DIN=prelude.lua -DOUT=prelude.c -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n\t" bytes "${bytes}")
file(WRITE ${OUT}.tmp
"/* Generated from prelude.lua by embed.cmake: do not edit. */
#include <stddef.h>

extern const char vuc_lua_prelude[];
extern const size_t vuc_lua_prelude_len;

const char vuc_lua_prelude[] = {
	${bytes}0x00
};
const size_t vuc_lua_prelude_len = ${len};
")
# Only touch the output when it changed, so nothing rebuilds for nothing.
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp
	${OUT})
file(REMOVE ${OUT}.tmp)
