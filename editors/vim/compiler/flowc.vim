" Vim compiler file for flowc: `:make` checks the project and fills the quickfix list from
" `flowc check --format short`, one line per diagnostic:
"   flows/booking.flow:12:7: error[E0201]: unknown name `clinet`
if exists("current_compiler")
  finish
endif
let current_compiler = "flowc"

if exists(":CompilerSet") != 2
  command -nargs=* CompilerSet setlocal <args>
endif

CompilerSet makeprg=flowc\ check\ --format\ short
" The type letter comes from `error`/`warning`; the message keeps the code: `[E0201]: ...`.
CompilerSet errorformat=%f:%l:%c:\ %trror%m,%f:%l:%c:\ %tarning%m,%-G%.%#
