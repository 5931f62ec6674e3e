[
  (entity_declaration)
  (flow_declaration)
  (template_declaration)
  (test_declaration)
  (input_declaration)
  (block)
  (record)
  (list)
  (call)
  (match_statement)
] @fold
