; What a Python module refers to, read by lsp_server.index.facts.
; Names and attribute names are kept per enclosing definition; the index resolves them to
; workspace definitions through the file's imports, its own definitions and the class bases.
(identifier) @reference.name
(attribute attribute: (identifier) @reference.attribute)
(class_definition
  superclasses: (argument_list [(identifier) (attribute)] @base)) @base.class
(decorator [(identifier) (attribute)] @decorator)
(decorator (call function: [(identifier) (attribute)] @decorator))
