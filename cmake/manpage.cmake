# cmake -DCLI=path/to/cformer -DHELP2MAN=path -DOUT=cformer.1 -P manpage.cmake
# The man page is help2man's rendering of `cformer --help` plus a COMMANDS section with
# each command's own --help, so it says exactly what the CLI says.
execute_process(COMMAND ${CLI} --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${CLI} --help failed (${rc})")
endif()
# Commands: the indented lines under "commands:" in the top-level help.
string(REGEX MATCH "commands:\n(([ ]+[a-z-]+[^\n]*\n)+)" block "${top}")
string(REGEX MATCHALL "\n  [a-z-]+" names "\n${CMAKE_MATCH_1}")
set(include_text "[COMMANDS]\n")
foreach(n ${names})
  string(STRIP "${n}" n)
  execute_process(COMMAND ${CLI} ${n} --help OUTPUT_VARIABLE help ERROR_VARIABLE help_err)
  if(help STREQUAL "")
    set(help "${help_err}")
  endif()
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
  string(APPEND include_text ".SS ${n}\n.nf\n${help}.fi\n")
endforeach()
file(WRITE ${OUT}.include "${include_text}")
execute_process(COMMAND ${HELP2MAN} --no-info --no-discard-stderr
  --name "Hugging Face transformer pipelines on the CPU" --section 1
  --include ${OUT}.include --output ${OUT} ${CLI} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc})")
endif()
