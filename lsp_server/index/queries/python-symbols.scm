; Definitions and imports of a Python module, read by lsp_server.index.python_symbols.
(function_definition name: (identifier) @name) @definition.function
(class_definition name: (identifier) @name) @definition.class
(module (expression_statement (assignment left: (identifier) @name)) @definition.constant)
(import_from_statement) @import.from
(import_statement) @import.module
