" flowc workflows
autocmd BufRead,BufNewFile *.flow setfiletype flow
