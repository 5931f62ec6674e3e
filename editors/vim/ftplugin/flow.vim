" flowc workflows: the canonical layout (`flowc fmt`) indents by two spaces.
if exists("b:did_ftplugin")
  finish
endif
let b:did_ftplugin = 1

setlocal expandtab shiftwidth=2 softtabstop=2 tabstop=2
setlocal commentstring=//\ %s
setlocal comments=:///,://
setlocal formatoptions-=t formatoptions+=croql
" `gq` formats with flowc (on a whole file: gggqG); text with syntax errors comes back unchanged.
setlocal formatprg=flowc\ fmt\ -\ 2>/dev/null

" `:make` runs `flowc check --format short` into the quickfix list (compiler/flowc.vim).
compiler flowc

let b:undo_ftplugin = "setlocal expandtab< shiftwidth< softtabstop< tabstop< commentstring< comments< formatoptions< formatprg< makeprg< errorformat<"
