" Vim syntax file
" Language:    flow (flowc workflows, *.flow)
" Maintainer:  the flowc project
" Keep in step with grammar/flow.pest: a test (tests/fmt.rs) checks every keyword is here.

if exists("b:current_syntax")
  finish
endif

syn keyword flowDeclaration use as entity flow template test
syn keyword flowStatement step let emit fail yield wait until
syn keyword flowConditional if else match
syn keyword flowRepeat for in concurrency
syn keyword flowTrigger on webhook verified unverified by notion created changed to schedule manual event error
syn keyword flowPolicy retry times backoff factor jitter no timeout fallback after where
syn keyword flowEntity databases grant read write read_write setting
syn keyword flowTemplate subject text html sms slack example
syn keyword flowSection input output
syn keyword flowTest start at stub returns fails hangs then send expect ran skipped failed call with
syn keyword flowOperatorWord and or not
syn keyword flowBoolean true false
syn keyword flowNone none
syn keyword flowTodo TODO FIXME XXX NOTE contained

syn match flowDuration "\<\(\d\+\(ms\|s\|m\|h\|d\|w\)\)\+\>"
syn match flowNumber "\<\d\+\(\.\d\+\)\=\>"
syn match flowOperator "??\|==\|!=\|<=\|>=\|=>\|\.\.\|[-+*/<>=]"
syn match flowFunction "\<\h\w*\ze\s*("

syn region flowRawString start=+"""+ end=+"""+ contains=flowHandlebars
syn region flowString start=+"+ skip=+\\.+ end=+"+ end=+$+ oneline contains=flowEscape,flowInterpolation
syn match flowEscape +\\[\\"nt{}]+ contained
syn region flowInterpolation matchgroup=flowInterpolationDelim start=+{{+ end=+}}+ contained contains=TOP
syn region flowHandlebars matchgroup=flowInterpolationDelim start=+{{+ end=+}}+ contained oneline

" Defined after flowComment so that `///` (a doc comment) wins over `//`.
syn match flowComment "//.*$" contains=flowTodo
syn match flowDoc "///.*$" contains=flowTodo
syn region flowBlockComment start="/\*" end="\*/" contains=flowTodo

hi def link flowDeclaration Structure
hi def link flowStatement Statement
hi def link flowConditional Conditional
hi def link flowRepeat Repeat
hi def link flowTrigger Keyword
hi def link flowPolicy Keyword
hi def link flowEntity Keyword
hi def link flowTemplate Keyword
hi def link flowSection Keyword
hi def link flowTest Keyword
hi def link flowOperatorWord Operator
hi def link flowOperator Operator
hi def link flowBoolean Boolean
hi def link flowNone Constant
hi def link flowDuration Number
hi def link flowNumber Number
hi def link flowFunction Function
hi def link flowString String
hi def link flowRawString String
hi def link flowEscape SpecialChar
hi def link flowInterpolationDelim Delimiter
hi def link flowHandlebars Identifier
hi def link flowComment Comment
hi def link flowBlockComment Comment
hi def link flowDoc SpecialComment
hi def link flowTodo Todo

let b:current_syntax = "flow"
