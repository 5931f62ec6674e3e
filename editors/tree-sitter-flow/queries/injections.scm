; Template bodies are handlebars, not flow: `{{ }}` in them is handlebars.
((template_part body: (template_string) @injection.content)
  (#set! injection.language "handlebars")
  (#offset! @injection.content 0 1 0 -1))
((template_part body: (raw_string) @injection.content)
  (#set! injection.language "handlebars")
  (#offset! @injection.content 0 3 0 -3))

((comment) @injection.content (#set! injection.language "comment"))
