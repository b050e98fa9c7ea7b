/* The index's reading of a Python file's tree, in C: lsp_server.index._treescan.
 *
 * lsp_server/index/python_symbols.py holds the same reading in Python and says what each step
 * reads and why; this file follows it function by function (the tests compare the two on every
 * file of the standard library). Python spends about a fifth of the parse's time on those steps,
 * most of it calling into the tree; here the calls are plain C calls, and a cold index of a large
 * workspace costs little more than parsing it.
 *
 * The tree is the one py-tree-sitter's Parser built: its Tree object holds a TSTree pointer, read
 * here with tree-sitter's own node functions, compiled from the same release of tree-sitter
 * (native/tree_sitter, the core library of the py-tree-sitter 0.26.1 sdist). python_symbols.py
 * uses this module only when the installed tree-sitter is that release.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tree_sitter/api.h"

#define DOCSTRING_CHARS 600
#define SIGNATURE_BYTES 1000
#define CONSTANT_SIGNATURE_BYTES 800
#define CONSTANT_SIGNATURE_CHARS 200

/* py-tree-sitter 0.26's Tree object (tree_sitter/binding/types.h); setup() checks its size. */
typedef struct {
    PyObject_HEAD
    TSTree *tree;
    PyObject *source;
    PyObject *language;
} PyTree;

enum {
    K_FUNCTION = 1 << 0,
    K_CLASS = 1 << 1,
    K_DECORATED = 1 << 2,
    K_DECORATOR = 1 << 3,
    K_EXPRESSION_STATEMENT = 1 << 4,
    K_ASSIGNMENT = 1 << 5,
    K_STRING = 1 << 6,
    K_NAME_NODE = 1 << 7,
    K_CALL = 1 << 8,
    K_IMPORT_STATEMENT = 1 << 9,
    K_FROM_IMPORT = 1 << 10,
    K_STRING_CONTENT = 1 << 11,
};

static const char *KIND_KEYS[] = {
    "function", "class", "decorated", "decorator", "expression_statement", "assignment",
    "string", "name", "call", "import_statement", "from_import", "string_content",
};
#define KIND_KEY_COUNT (sizeof(KIND_KEYS) / sizeof(KIND_KEYS[0]))

static PyTypeObject *tree_type;
static PyTypeObject *definition_type;
static PyTypeObject *import_type;
static uint16_t *kind_flags;
static Py_ssize_t kind_flag_count;
static TSSymbol import_keyword;
static TSFieldId field_body, field_superclasses, field_function;
static PyObject *s_function, *s_method, *s_class, *s_constant, *s_space, *s_newline, *s_more, *s_empty, *s_strip;

typedef struct {
    const char *data;
    Py_ssize_t size;
} Source;

static inline bool has_kind(TSNode node, int kind) {
    if (ts_node_is_null(node)) return false;
    TSSymbol symbol = ts_node_symbol(node);
    return symbol < kind_flag_count && (kind_flags[symbol] & kind);
}

static inline bool is_name_byte(unsigned char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static inline bool is_name_start(unsigned char c) {
    return is_name_byte(c) && !(c >= '0' && c <= '9');
}

/* bytes.isspace() for one byte: what bytes.split() and bytes.strip() split and strip on. */
static inline bool is_ascii_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c';
}

static PyObject *decode(const Source *src, Py_ssize_t start, Py_ssize_t end) {
    if (end < start) end = start;
    return PyUnicode_DecodeUTF8(src->data + start, end - start, "replace");
}

/* data.find(needle, low, high): the needle must lie inside data[low:high]. */
static Py_ssize_t find(const Source *src, const char *needle, Py_ssize_t size, Py_ssize_t low, Py_ssize_t high) {
    if (low < 0) low = 0;
    if (high > src->size) high = src->size;
    if (high - low < size) return -1;
    const char *at = memmem(src->data + low, (size_t)(high - low), needle, (size_t)size);
    return at == NULL ? -1 : at - src->data;
}

/* data.rfind(b"\n", 0, end) */
static Py_ssize_t line_break_before(const Source *src, Py_ssize_t end) {
    if (end > src->size) end = src->size;
    if (end <= 0) return -1;
    const char *at = memrchr(src->data, '\n', (size_t)end);
    return at == NULL ? -1 : at - src->data;
}

/* The end of a name starting at ``at`` (``at`` when no name starts there), reading up to ``high``. */
static Py_ssize_t name_end(const Source *src, Py_ssize_t at, Py_ssize_t high) {
    if (at >= high || !is_name_start((unsigned char)src->data[at])) return at;
    Py_ssize_t end = at + 1;
    while (end < high && is_name_byte((unsigned char)src->data[end])) end++;
    return end;
}

/* Room for one more item in a growable array; -1 (MemoryError set) when there is none. */
static int reserve_one(void **items, Py_ssize_t size, Py_ssize_t *capacity, size_t item_size) {
    if (size < *capacity) return 0;
    Py_ssize_t grown = *capacity ? *capacity * 2 : 16;
    void *more = PyMem_Realloc(*items, (size_t)grown * item_size);
    if (more == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *items = more;
    *capacity = grown;
    return 0;
}

/* Append ``item`` to ``list`` (a struct of items, size, capacity): 0, or -1 with MemoryError set. */
#define PUSH(list, item) \
    (reserve_one((void **)&(list)->items, (list)->size, &(list)->capacity, sizeof(*(list)->items)) < 0 ? -1 : ((list)->items[(list)->size++] = (item), 0))

/* -- collected facts ------------------------------------------------------------------------ */

typedef struct {
    PyObject *definitions, *bases, *decorators, *name_spans, *imports;
} Found;

typedef struct {
    Py_ssize_t end;
    PyObject *qualname; /* borrowed: owned by a definition in Found, or by the caller's list */
    bool is_class;
} Frame;

typedef struct {
    Frame *items;
    Py_ssize_t size, capacity;
} Stack;

static int append_span(Found *found, Py_ssize_t start, Py_ssize_t end) {
    PyObject *span = Py_BuildValue("(nn)", start, end);
    if (span == NULL) return -1;
    int failed = PyList_Append(found->name_spans, span);
    Py_DECREF(span);
    return failed;
}

/* Definition(name, kind, qualname, start_line, end_line, start_byte, end_byte, docstring, signature);
 * steals every object argument. */
static int append_definition(Found *found, PyObject *name, PyObject *kind, PyObject *qualname, uint32_t start_line,
                             uint32_t end_line, uint32_t start_byte, uint32_t end_byte, PyObject *docstring, PyObject *signature) {
    PyObject *fields[9] = {name, kind, qualname, PyLong_FromUnsignedLong(start_line), PyLong_FromUnsignedLong(end_line),
                           PyLong_FromUnsignedLong(start_byte), PyLong_FromUnsignedLong(end_byte), docstring, signature};
    PyObject *definition = definition_type->tp_alloc(definition_type, 9);
    int failed = definition == NULL;
    for (int i = 0; i < 9; i++) {
        if (fields[i] == NULL) failed = 1;
    }
    if (failed) {
        for (int i = 0; i < 9; i++) Py_XDECREF(fields[i]);
        Py_XDECREF(definition);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < 9; i++) PyTuple_SET_ITEM(definition, i, fields[i]);
    failed = PyList_Append(found->definitions, definition);
    Py_DECREF(definition);
    return failed;
}

/* -- text of definitions -------------------------------------------------------------------- */

/* _signature(): the header up to its body, whitespace folded; a bodiless one's first line. */
static PyObject *signature(const Source *src, Py_ssize_t start, Py_ssize_t end, bool bodiless) {
    Py_ssize_t stop = end < start + SIGNATURE_BYTES ? end : start + SIGNATURE_BYTES;
    PyObject *header = decode(src, start, stop);
    if (header == NULL) return NULL;
    PyObject *parts = bodiless ? PyUnicode_Split(header, s_newline, 1) : PyUnicode_Split(header, NULL, -1);
    Py_DECREF(header);
    if (parts == NULL) return NULL;
    PyObject *result;
    if (bodiless) {
        result = Py_NewRef(PyList_GET_ITEM(parts, 0));
    } else {
        result = PyUnicode_Join(s_space, parts);
        if (result != NULL && end - start > SIGNATURE_BYTES) {
            PyObject *longer = PyUnicode_Concat(result, s_more);
            Py_SETREF(result, longer);
        }
    }
    Py_DECREF(parts);
    return result;
}

/* str.strip() of ``text``, cut to DOCSTRING_CHARS; None when empty. Steals ``text``. */
static PyObject *stripped_head(PyObject *text) {
    if (text == NULL) return NULL;
    PyObject *stripped = PyObject_CallMethodNoArgs(text, s_strip);
    Py_DECREF(text);
    if (stripped == NULL) return NULL;
    Py_ssize_t length = PyUnicode_GET_LENGTH(stripped);
    if (length == 0) {
        Py_DECREF(stripped);
        Py_RETURN_NONE;
    }
    if (length <= DOCSTRING_CHARS) return stripped;
    PyObject *head = PyUnicode_Substring(stripped, 0, DOCSTRING_CHARS);
    Py_DECREF(stripped);
    return head;
}

/* _string_content(): the content of a plain string literal; *simple false when it is not one. */
static PyObject *string_content(const Source *src, Py_ssize_t start, Py_ssize_t end, bool *simple) {
    const char *d = src->data;
    Py_ssize_t at = start;
    while (at < end && d[at] != '"' && d[at] != '\'') at++;
    Py_ssize_t width = at + 3 <= src->size && d[at] == d[at + 1] && d[at] == d[at + 2] ? 3 : 1;
    *simple = false;
    if (end - at < 2 * width || memcmp(d + end - width, d + at, (size_t)width) != 0) return NULL;
    for (Py_ssize_t i = start; i < at; i++) {
        if (d[i] == 'f' || d[i] == 'F') return NULL;
    }
    *simple = true;
    Py_ssize_t stop = end - width < at + width + 4 * DOCSTRING_CHARS ? end - width : at + width + 4 * DOCSTRING_CHARS;
    return decode(src, at + width, stop);
}

/* _joined_content(): an f-string's text parts, its fields left out. */
static PyObject *joined_content(const Source *src, TSNode string) {
    PyObject *parts = PyList_New(0);
    if (parts == NULL) return NULL;
    uint32_t count = ts_node_named_child_count(string);
    for (uint32_t i = 0; i < count; i++) {
        TSNode child = ts_node_named_child(string, i);
        if (!has_kind(child, K_STRING_CONTENT)) continue;
        PyObject *text = decode(src, ts_node_start_byte(child), ts_node_end_byte(child));
        if (text == NULL || PyList_Append(parts, text) < 0) {
            Py_XDECREF(text);
            Py_DECREF(parts);
            return NULL;
        }
        Py_DECREF(text);
    }
    PyObject *joined = PyUnicode_Join(s_empty, parts);
    Py_DECREF(parts);
    return stripped_head(joined);
}

/* _docstring(): the string that opens ``body``, or None. */
static PyObject *docstring(const Source *src, TSNode body) {
    if (ts_node_is_null(body)) Py_RETURN_NONE;
    Py_ssize_t at = ts_node_start_byte(body);
    if (at >= src->size || strchr("\"'rRuUbBfF", src->data[at]) == NULL || src->data[at] == '\0') Py_RETURN_NONE;
    TSNode statement = ts_node_named_child(body, 0);
    if (!has_kind(statement, K_EXPRESSION_STATEMENT)) Py_RETURN_NONE;
    TSNode string = ts_node_named_child(statement, 0);
    if (!has_kind(string, K_STRING)) Py_RETURN_NONE;
    bool simple;
    PyObject *text = string_content(src, ts_node_start_byte(string), ts_node_end_byte(string), &simple);
    if (!simple) return joined_content(src, string);
    return stripped_head(text);
}

/* _last_part(): ``a.b.C`` -> ``C``. */
static PyObject *last_part(const Source *src, TSNode node) {
    PyObject *text = decode(src, ts_node_start_byte(node), ts_node_end_byte(node));
    if (text == NULL) return NULL;
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Py_ssize_t dot = PyUnicode_FindChar(text, '.', 0, length, -1);
    if (dot < 0) return dot == -1 ? text : (Py_DECREF(text), NULL);
    PyObject *tail = PyUnicode_Substring(text, dot + 1, length);
    Py_DECREF(text);
    return tail;
}

static int append_last_part(const Source *src, TSNode node, PyObject *names) {
    PyObject *name = last_part(src, node);
    int failed = name == NULL || PyList_Append(names, name) < 0;
    Py_XDECREF(name);
    return failed ? -1 : 0;
}

/* Store ``names`` as a tuple under ``key`` when it is not empty. */
static int store_names(PyObject *mapping, PyObject *key, PyObject *names) {
    if (PyList_GET_SIZE(names) == 0) return 0;
    PyObject *tuple = PyList_AsTuple(names);
    if (tuple == NULL) return -1;
    int failed = PyDict_SetItem(mapping, key, tuple);
    Py_DECREF(tuple);
    return failed;
}

/* _bases() */
static int read_bases(const Source *src, TSNode node, PyObject *qualname, Found *found) {
    TSNode superclasses = ts_node_child_by_field_id(node, field_superclasses);
    if (ts_node_is_null(superclasses)) return 0;
    PyObject *names = PyList_New(0);
    if (names == NULL) return -1;
    uint32_t count = ts_node_named_child_count(superclasses);
    for (uint32_t i = 0; i < count; i++) {
        TSNode child = ts_node_named_child(superclasses, i);
        if (has_kind(child, K_NAME_NODE) && append_last_part(src, child, names) < 0) {
            Py_DECREF(names);
            return -1;
        }
    }
    int failed = store_names(found->bases, qualname, names);
    Py_DECREF(names);
    return failed;
}

/* _decorators() */
static int read_decorators(const Source *src, TSNode outer, PyObject *qualname, Found *found) {
    PyObject *names = PyList_New(0);
    if (names == NULL) return -1;
    uint32_t count = ts_node_named_child_count(outer);
    for (uint32_t i = 0; i < count; i++) {
        TSNode decorator = ts_node_named_child(outer, i);
        if (!has_kind(decorator, K_DECORATOR)) continue;
        TSNode expression = ts_node_named_child(decorator, 0);
        if (has_kind(expression, K_CALL)) expression = ts_node_child_by_field_id(expression, field_function);
        if (has_kind(expression, K_NAME_NODE) && append_last_part(src, expression, names) < 0) {
            Py_DECREF(names);
            return -1;
        }
    }
    int failed = store_names(found->decorators, qualname, names);
    Py_DECREF(names);
    return failed;
}

/* -- definitions ---------------------------------------------------------------------------- */

typedef struct {
    Py_ssize_t start, name_start, name_end;
} Candidate;

typedef struct {
    Candidate *items;
    Py_ssize_t size, capacity;
} Candidates;

static int by_start(const void *a, const void *b) {
    Py_ssize_t x = ((const Candidate *)a)->start, y = ((const Candidate *)b)->start;
    return (x > y) - (x < y);
}

/* The next whole-word ``word`` in data[from:high] (_words), or -1. */
static Py_ssize_t next_word(const Source *src, const char *word, Py_ssize_t size, Py_ssize_t from, Py_ssize_t high) {
    for (Py_ssize_t at = find(src, word, size, from, high); at >= 0; at = find(src, word, size, at + size, high)) {
        bool starts = at == 0 || !is_name_byte((unsigned char)src->data[at - 1]);
        bool ends = at + size == src->size || !is_name_byte((unsigned char)src->data[at + size]);
        if (starts && ends) return at;
    }
    return -1;
}

/* _definition_candidates(): ``def NAME`` / ``class NAME`` that only indentation or ``async``
 * precedes on its line, as (statement start, name span), in order. */
static int definition_candidates(const Source *src, Py_ssize_t low, Py_ssize_t high, Candidates *out) {
    static const char *keywords[] = {"def", "class"};
    for (int k = 0; k < 2; k++) {
        Py_ssize_t size = (Py_ssize_t)strlen(keywords[k]);
        for (Py_ssize_t at = next_word(src, keywords[k], size, low, high); at >= 0; at = next_word(src, keywords[k], size, at + size, high)) {
            Py_ssize_t name_start = at + size;
            while (name_start < src->size && (src->data[name_start] == ' ' || src->data[name_start] == '\t')) name_start++;
            if (name_start == at + size) continue;
            Py_ssize_t end = name_end(src, name_start, src->size);
            if (end == name_start) continue;
            Py_ssize_t line_start = line_break_before(src, at) + 1, first = line_start;
            while (first < at && is_ascii_space((unsigned char)src->data[first])) first++;
            Py_ssize_t start = at;
            if (first < at) { /* something precedes the keyword: only ``async`` may */
                Py_ssize_t after = first + 5;
                if (after >= at || memcmp(src->data + first, "async", 5) != 0) continue;
                while (after < at && is_ascii_space((unsigned char)src->data[after])) after++;
                if (after != at || !is_ascii_space((unsigned char)src->data[first + 5])) continue;
                start = first;
            }
            if (PUSH(out, ((Candidate){start, name_start, end})) < 0) return -1;
        }
    }
    qsort(out->items, (size_t)out->size, sizeof(Candidate), by_start);
    return 0;
}

typedef struct {
    PyObject *qualname; /* borrowed from a definition in Found */
    TSNode body;
} ClassBody;

typedef struct {
    ClassBody *items;
    Py_ssize_t size, capacity;
} ClassBodies;

/* One confirmed ``def`` or ``class`` (the body of _functions_and_classes' loop). */
static int read_definition(const Source *src, TSNode node, Candidate *c, Py_ssize_t *previous, Stack *stack, Found *found,
                           ClassBodies *classes) {
    while (stack->size && stack->items[stack->size - 1].end <= c->start) stack->size--;
    Frame *top = stack->size ? &stack->items[stack->size - 1] : NULL;
    bool is_class = has_kind(node, K_CLASS);
    PyObject *name = decode(src, c->name_start, c->name_end);
    if (name == NULL) return -1;
    PyObject *kind = is_class ? s_class : top != NULL && top->is_class ? s_method : s_function;
    PyObject *qualname = top != NULL ? PyUnicode_FromFormat("%U.%U", top->qualname, name) : Py_NewRef(name);
    if (qualname == NULL) {
        Py_DECREF(name);
        return -1;
    }
    TSNode outer = node;
    bool decorated = false;
    if (*previous < c->start && memchr(src->data + *previous, '@', (size_t)(c->start - *previous)) != NULL) {
        TSNode parent = ts_node_parent(node);
        if (has_kind(parent, K_DECORATED)) {
            outer = parent;
            decorated = true;
        }
    }
    *previous = c->start;
    TSNode body = ts_node_child_by_field_id(node, field_body);
    uint32_t end = ts_node_end_byte(node);
    bool bodiless = ts_node_is_null(body);
    PyObject *header = signature(src, c->start, bodiless ? end : ts_node_start_byte(body), bodiless);
    PyObject *doc = header == NULL ? NULL : docstring(src, body);
    Py_INCREF(kind);
    Py_INCREF(qualname); /* one reference for the definition, one kept while this function uses it */
    int failed = append_definition(found, name, kind, qualname, ts_node_start_point(outer).row, ts_node_end_point(node).row,
                                   ts_node_start_byte(outer), end, doc, header);
    if (!failed) failed = append_span(found, c->name_start, c->name_end);
    if (!failed) failed = PUSH(stack, ((Frame){end, qualname, is_class}));
    if (!failed && is_class) {
        failed = read_bases(src, node, qualname, found);
        if (!failed && !bodiless) failed = PUSH(classes, ((ClassBody){qualname, body}));
    }
    if (!failed && decorated) failed = read_decorators(src, outer, qualname, found);
    Py_DECREF(qualname); /* the definition in found->definitions keeps it alive */
    return failed;
}

/* _functions_and_classes() */
static int functions_and_classes(const Source *src, TSNode root, Py_ssize_t low, Py_ssize_t high, Stack *stack, Found *found,
                                 ClassBodies *classes) {
    Candidates candidates = {0};
    if (definition_candidates(src, low, high, &candidates) < 0) return -1;
    Py_ssize_t previous = low;
    int failed = 0;
    for (Py_ssize_t i = 0; i < candidates.size && !failed; i++) {
        Candidate *c = &candidates.items[i];
        TSNode node = ts_node_descendant_for_byte_range(root, (uint32_t)c->start, (uint32_t)c->name_start + 1);
        if (ts_node_is_null(node) || ts_node_start_byte(node) != (uint32_t)c->start || !has_kind(node, K_FUNCTION | K_CLASS)) continue;
        failed = read_definition(src, node, c, &previous, stack, found, classes);
    }
    PyMem_Free(candidates.items);
    return failed;
}

/* -- constants ------------------------------------------------------------------------------ */

/* ``NAME[ \t]*`` then ``=`` (not ``==``) or ``:`` at ``at``, reading up to ``high``; the name's end or -1. */
static Py_ssize_t assigned_name(const Source *src, Py_ssize_t at, Py_ssize_t high) {
    Py_ssize_t end = name_end(src, at, high), after = end;
    if (end == at) return -1;
    while (after < high && (src->data[after] == ' ' || src->data[after] == '\t')) after++;
    if (after >= high) return -1;
    char c = src->data[after];
    if (c == ':' || (c == '=' && (after + 1 >= high || src->data[after + 1] != '='))) return end;
    return -1;
}

static int read_constant(const Source *src, TSNode block, Py_ssize_t at, Py_ssize_t end, PyObject *owner, Found *found) {
    TSNode statement = ts_node_first_named_child_for_byte(block, (uint32_t)at);
    if (ts_node_is_null(statement) || ts_node_start_byte(statement) != (uint32_t)at || !has_kind(statement, K_EXPRESSION_STATEMENT)) return 0;
    if (!has_kind(ts_node_named_child(statement, 0), K_ASSIGNMENT)) return 0;
    PyObject *name = decode(src, at, end);
    if (name == NULL) return -1;
    PyObject *qualname = owner != NULL ? PyUnicode_FromFormat("%U.%U", owner, name) : Py_NewRef(name);
    if (qualname == NULL) {
        Py_DECREF(name);
        return -1;
    }
    uint32_t statement_end = ts_node_end_byte(statement);
    Py_ssize_t stop = statement_end < at + CONSTANT_SIGNATURE_BYTES ? statement_end : at + CONSTANT_SIGNATURE_BYTES;
    PyObject *line = NULL, *text = decode(src, at, stop);
    if (text != NULL) {
        PyObject *parts = PyUnicode_Split(text, s_newline, 1);
        if (parts != NULL) {
            PyObject *first = PyList_GET_ITEM(parts, 0);
            line = PyUnicode_Substring(first, 0, CONSTANT_SIGNATURE_CHARS);
            Py_DECREF(parts);
        }
        Py_DECREF(text);
    }
    Py_INCREF(s_constant);
    Py_INCREF(Py_None);
    if (append_definition(found, name, s_constant, qualname, ts_node_start_point(statement).row, ts_node_end_point(statement).row,
                          (uint32_t)at, statement_end, Py_None, line) < 0)
        return -1;
    return append_span(found, at, end);
}

/* _constants(): ``NAME = ...`` / ``NAME: type`` lines at the indentation of the module
 * (``owner`` NULL, the window) or of a class body (``block``'s own bytes). */
static int constants(const Source *src, TSNode block, Py_ssize_t low, Py_ssize_t high, bool whole_block, PyObject *owner, Found *found) {
    Py_ssize_t indent_start = 0, indent_size = 0;
    if (whole_block) {
        low = ts_node_start_byte(block);
        high = ts_node_end_byte(block);
        indent_start = line_break_before(src, low) + 1;
        indent_size = low - indent_start;
        for (Py_ssize_t i = indent_start; i < low; i++) {
            if (!is_ascii_space((unsigned char)src->data[i])) return 0; /* ``class A: x = 1`` */
        }
    }
    if (high > src->size) high = src->size;
    if (low == 0) { /* the first line has no line break before it */
        Py_ssize_t end = assigned_name(src, 0, src->size);
        if (end > 0 && read_constant(src, block, 0, end, owner, found) < 0) return -1;
    }
    Py_ssize_t from = line_break_before(src, low);
    if (from < 0) from = 0;
    while (from < high) {
        const char *hit = memchr(src->data + from, '\n', (size_t)(high - from));
        if (hit == NULL) break;
        Py_ssize_t at = hit - src->data + 1 + indent_size;
        from = hit - src->data + 1;
        if (at > high || memcmp(src->data + from, src->data + indent_start, (size_t)indent_size) != 0) continue;
        Py_ssize_t end = assigned_name(src, at, high);
        if (end < 0) continue;
        from = end;
        if (at >= low && read_constant(src, block, at, end, owner, found) < 0) return -1;
    }
    return 0;
}

/* -- imports ------------------------------------------------------------------------------ */

/* What str.split() and the str pattern \s take for whitespace, among ASCII characters. */
static inline bool is_str_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

/* The import text is ASCII here (others go to Python), where name_end() reads [^\W\d]\w* as the
 * pattern does. */
static Py_ssize_t skip_spaces(Source t, Py_ssize_t at) {
    while (at < t.size && is_str_space(t.data[at])) at++;
    return at;
}

/* ``import`` as a whole word at ``at`` (\bimport\b, the word before it already ended). */
static bool import_word_at(Source t, Py_ssize_t at) {
    return at + 6 <= t.size && memcmp(t.data + at, "import", 6) == 0 && (at + 6 == t.size || !is_name_byte((unsigned char)t.data[at + 6]));
}

/* The words of t[start:end] as str.split() makes them. */
static PyObject *words_of(Source t, Py_ssize_t start, Py_ssize_t end) {
    PyObject *words = PyList_New(0);
    for (Py_ssize_t at = start; words != NULL && at < end;) {
        while (at < end && is_str_space(t.data[at])) at++;
        Py_ssize_t word = at;
        while (at < end && !is_str_space(t.data[at])) at++;
        if (at == word) break;
        PyObject *text = PyUnicode_FromStringAndSize(t.data + word, at - word);
        if (text == NULL || PyList_Append(words, text) < 0) Py_CLEAR(words);
        Py_XDECREF(text);
    }
    return words;
}

static bool word_is(PyObject *word, const char *text) {
    return PyUnicode_CompareWithASCIIString(word, text) == 0;
}

static PyObject *new_import(PyObject *module, Py_ssize_t level, PyObject *names, PyObject *aliases) {
    PyObject *fields[4] = {module, PyLong_FromSsize_t(level), names, aliases};
    PyObject *result = fields[0] && fields[1] && fields[2] && fields[3] ? import_type->tp_alloc(import_type, 4) : NULL;
    for (int i = 0; i < 4; i++) {
        if (result != NULL) PyTuple_SET_ITEM(result, i, fields[i]);
        else Py_XDECREF(fields[i]);
    }
    return result;
}

/* ``import a.b as c, d`` -> [Import("a.b", 0, ()), Import("d", 0, ())] (_imports_in_text). */
static PyObject *module_imports(Source t) {
    PyObject *found = PyList_New(0);
    for (Py_ssize_t at = 6; found != NULL && at <= t.size;) {  /* the text starts with ``import`` */
        const char *comma = memchr(t.data + at, ',', (size_t)(t.size - at));
        Py_ssize_t end = comma == NULL ? t.size : comma - t.data;
        PyObject *words = words_of(t, at, end);
        at = end + 1;
        if (words == NULL) {
            Py_CLEAR(found);
            break;
        }
        Py_ssize_t count = PyList_GET_SIZE(words), keep = count;
        for (Py_ssize_t i = 0; i < count; i++) {
            if (word_is(PyList_GET_ITEM(words, i), "as")) {
                keep = i;
                break;
            }
        }
        PyObject *kept = count ? PyList_GetSlice(words, 0, keep) : NULL;
        PyObject *module = kept == NULL ? NULL : PyUnicode_Join(s_empty, kept);
        Py_XDECREF(kept);
        Py_DECREF(words);
        if (count == 0) continue;
        PyObject *imported = new_import(module, 0, PyTuple_New(0), PyTuple_New(0));
        if (imported == NULL || PyList_Append(found, imported) < 0) Py_CLEAR(found);
        Py_XDECREF(imported);
    }
    return found;
}

/* The names (and their local names) after ``import`` in ``from m import a as b, c``. */
static int imported_names(Source t, Py_ssize_t at, PyObject *names, PyObject *aliases) {
    while (at <= t.size) {
        const char *comma = memchr(t.data + at, ',', (size_t)(t.size - at));
        Py_ssize_t end = comma == NULL ? t.size : comma - t.data;
        PyObject *words = words_of(t, at, end);
        at = end + 1;
        if (words == NULL) return -1;
        Py_ssize_t count = PyList_GET_SIZE(words);
        int failed = 0;
        if (count && !(count == 1 && word_is(PyList_GET_ITEM(words, 0), "*"))) {
            PyObject *local = count == 3 && word_is(PyList_GET_ITEM(words, 1), "as") ? PyList_GET_ITEM(words, 2) : PyList_GET_ITEM(words, 0);
            failed = PyList_Append(names, PyList_GET_ITEM(words, 0)) < 0 || PyList_Append(aliases, local) < 0;
        }
        Py_DECREF(words);
        if (failed) return -1;
    }
    return 0;
}

/* ``from ..a . b import c as d`` -> [Import("a.b", 2, ("c",), ("d",))]; None where the text is not
 * read as _FROM_MODULE reads it at its first try (Python then reads it). */
static PyObject *from_import(Source t) {
    Py_ssize_t at = skip_spaces(t, 4), level = 0;  /* the text starts with ``from`` */
    while (at < t.size && t.data[at] == '.') at++, level++;
    Py_ssize_t module_start = skip_spaces(t, at), module_end = name_end(&t, module_start, t.size);
    for (Py_ssize_t next = module_end; next > module_start;) {  /* (\s*\.\s*identifier)* */
        Py_ssize_t dot = skip_spaces(t, next);
        if (dot >= t.size || t.data[dot] != '.') break;
        Py_ssize_t name = skip_spaces(t, dot + 1), end = name_end(&t, name, t.size);
        if (end == name) break;
        module_end = next = end;
    }
    Py_ssize_t keyword = skip_spaces(t, module_end);
    if (!import_word_at(t, keyword)) {
        /* ``from . import x``: the pattern first takes ``import`` for the module, then gives it back */
        if (!(module_end - module_start == 6 && import_word_at(t, module_start))) Py_RETURN_NONE;
        module_end = keyword = module_start;
    }
    PyObject *names = PyList_New(0), *aliases = PyList_New(0), *parts = words_of(t, module_start, module_end);
    PyObject *module = parts == NULL ? NULL : PyUnicode_Join(s_empty, parts);
    Py_XDECREF(parts);
    if (names == NULL || aliases == NULL || module == NULL || imported_names(t, keyword + 6, names, aliases) < 0) {
        Py_XDECREF(names);
        Py_XDECREF(aliases);
        Py_XDECREF(module);
        return NULL;
    }
    int same = PyObject_RichCompareBool(names, aliases, Py_EQ);
    PyObject *name_tuple = PyList_AsTuple(names), *alias_tuple = same == 1 ? PyTuple_New(0) : same == 0 ? PyList_AsTuple(aliases) : NULL;
    Py_DECREF(names);
    Py_DECREF(aliases);
    PyObject *imported = new_import(module, level, name_tuple, alias_tuple);
    if (imported == NULL) return NULL;
    PyObject *found = PyList_New(1);
    if (found == NULL) {
        Py_DECREF(imported);
        return NULL;
    }
    PyList_SET_ITEM(found, 0, imported);
    return found;
}

/* _imports_in_text() for a statement of ASCII text; None for any other (Python reads it). */
static PyObject *imports_in_text(const Source *src, Py_ssize_t start, Py_ssize_t end, bool is_from) {
    char *text = PyMem_Malloc(end - start + 1);
    if (text == NULL) return PyErr_NoMemory();
    for (Py_ssize_t i = start; i < end; i++) {  /* _LINE_NOISE: comments, line continuations and parentheses */
        char c = src->data[i];
        if ((unsigned char)c >= 0x80) {
            PyMem_Free(text);
            Py_RETURN_NONE;
        }
        if (c == '#') {
            while (i < end && src->data[i] != '\n') text[i++ - start] = ' ';
            if (i == end) break;
            c = '\n';
        } else if (c == '\\' && i + 1 < end && (src->data[i + 1] == '\n' || (src->data[i + 1] == '\r' && i + 2 < end && src->data[i + 2] == '\n'))) {
            c = ' ';
        } else if (c == '(' || c == ')') {
            c = ' ';
        }
        text[i - start] = c;
    }
    Source t = {text, end - start};
    const char *keyword = is_from ? "from" : "import";
    size_t length = strlen(keyword);
    bool as_expected = (size_t)t.size >= length && memcmp(text, keyword, length) == 0; /* as a statement without errors does */
    PyObject *found = !as_expected ? Py_NewRef(Py_None) : is_from ? from_import(t) : module_imports(t);
    PyMem_Free(text);
    return found;
}

/* The import statements of the window as (keyword at, start, end, is_from, has_error, imports):
 * ``imports`` None where Python reads the statement (its tree where it has errors). */
static int import_statements(const Source *src, TSNode root, Py_ssize_t low, Py_ssize_t high, Found *found) {
    PyObject *seen = PySet_New(NULL);
    if (seen == NULL) return -1;
    int failed = 0;
    for (Py_ssize_t at = next_word(src, "import", 6, low, high); at >= 0 && !failed; at = next_word(src, "import", 6, at + 6, high)) {
        TSNode keyword = ts_node_descendant_for_byte_range(root, (uint32_t)at, (uint32_t)at + 6);
        if (ts_node_is_null(keyword) || ts_node_symbol(keyword) != import_keyword) continue;
        TSNode statement = ts_node_parent(keyword);
        if (!has_kind(statement, K_IMPORT_STATEMENT)) continue;
        uint32_t start = ts_node_start_byte(statement), end = ts_node_end_byte(statement);
        PyObject *key = PyLong_FromUnsignedLong(start);
        int known = key == NULL ? -1 : PySet_Contains(seen, key);
        if (known == 0) known = PySet_Add(seen, key);
        Py_XDECREF(key);
        if (known != 0) {
            failed = known < 0;
            continue;
        }
        bool is_from = has_kind(statement, K_FROM_IMPORT), has_error = ts_node_has_error(statement);
        PyObject *imports = has_error ? Py_NewRef(Py_None) : imports_in_text(src, start, end, is_from);
        PyObject *row = imports == NULL ? NULL : Py_BuildValue("(nIIOON)", at, start, end, is_from ? Py_True : Py_False, has_error ? Py_True : Py_False, imports);
        failed = row == NULL || PyList_Append(found->imports, row) < 0;
        Py_XDECREF(row);
    }
    Py_DECREF(seen);
    return failed ? -1 : 0;
}

/* -- the module's functions ----------------------------------------------------------------- */

static int read_stack(PyObject *enclosing, Stack *stack) {
    Py_ssize_t count = PyList_GET_SIZE(enclosing);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *frame = PyList_GET_ITEM(enclosing, i);
        if (!PyTuple_Check(frame) || PyTuple_GET_SIZE(frame) != 3) {
            PyErr_SetString(PyExc_TypeError, "enclosing: (end byte, qualname, kind) tuples expected");
            return -1;
        }
        Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(frame, 0));
        if (end == -1 && PyErr_Occurred()) return -1;
        int is_class = PyUnicode_Check(PyTuple_GET_ITEM(frame, 2)) && PyUnicode_Compare(PyTuple_GET_ITEM(frame, 2), s_class) == 0;
        if (PUSH(stack, ((Frame){end, PyTuple_GET_ITEM(frame, 1), is_class})) < 0) return -1;
    }
    return 0;
}

static int scan_into(const Source *src, TSNode root, Py_ssize_t low, Py_ssize_t high, PyObject *enclosing, Found *found) {
    Stack stack = {0};
    ClassBodies classes = {0};
    int failed = read_stack(enclosing, &stack);
    if (!failed) failed = functions_and_classes(src, root, low, high, &stack, found, &classes);
    if (!failed) failed = constants(src, root, low, high, false, NULL, found);
    for (Py_ssize_t i = 0; i < classes.size && !failed; i++) {
        failed = constants(src, classes.items[i].body, 0, 0, true, classes.items[i].qualname, found);
    }
    if (!failed) failed = import_statements(src, root, low, high, found);
    PyMem_Free(stack.items);
    PyMem_Free(classes.items);
    return failed;
}

PyDoc_STRVAR(scan_doc,
"scan(data, tree, start, end, enclosing) -> (definitions, bases, decorators, name_spans, imports)\n\n"
"What python_symbols.scan_tree reads, for the definitions and imports starting in data[start:end]:\n"
"definitions (unsorted), bases and decorators by qualname, name spans (unsorted) and import\n"
"statements as (keyword at, start, end, is_from, has_error, imports or None where Python reads them). ``enclosing``: the definitions\n"
"around the window as (end byte, qualname, kind), outermost first.");

static PyObject *scan(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer buffer;
    PyObject *tree, *enclosing;
    Py_ssize_t low, high;
    if (definition_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_treescan.setup() has not been called");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*O!nnO!:scan", &buffer, tree_type, &tree, &low, &high, &PyList_Type, &enclosing)) return NULL;
    Source src = {buffer.buf, buffer.len};
    if (low < 0) low = 0;
    if (high > src.size) high = src.size;
    Found found = {PyList_New(0), PyDict_New(), PyDict_New(), PyList_New(0), PyList_New(0)};
    PyObject *result = NULL;
    if (found.definitions && found.bases && found.decorators && found.name_spans && found.imports &&
        scan_into(&src, ts_tree_root_node(((PyTree *)tree)->tree), low, high, enclosing, &found) == 0) {
        result = PyTuple_Pack(5, found.definitions, found.bases, found.decorators, found.name_spans, found.imports);
    }
    Py_XDECREF(found.definitions);
    Py_XDECREF(found.bases);
    Py_XDECREF(found.decorators);
    Py_XDECREF(found.name_spans);
    Py_XDECREF(found.imports);
    PyBuffer_Release(&buffer);
    return result;
}

PyDoc_STRVAR(setup_doc,
"setup(tree_type, definition_type, import_type, kinds, import_keyword, fields)\n\n"
"tree_type: tree_sitter.Tree; definition_type, import_type: the Definition and Import tuple classes; kinds: name -> node\n"
"kind ids (the names in KIND_KEYS); import_keyword: the id of the ``import`` keyword; fields:\n"
"the ids of the fields body, superclasses and function.");

static PyObject *setup(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *tree, *definition, *import, *kinds;
    unsigned int keyword, body, superclasses, function;
    if (!PyArg_ParseTuple(args, "O!O!O!O!I(III):setup", &PyType_Type, &tree, &PyType_Type, &definition, &PyType_Type, &import, &PyDict_Type,
                          &kinds, &keyword, &body, &superclasses, &function))
        return NULL;
    if (((PyTypeObject *)tree)->tp_basicsize != (Py_ssize_t)sizeof(PyTree)) {
        PyErr_SetString(PyExc_ImportError, "tree_sitter.Tree is not laid out as this module expects (another py-tree-sitter release)");
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)definition, &PyTuple_Type) || !PyType_IsSubtype((PyTypeObject *)import, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "definition_type and import_type must be tuple classes");
        return NULL;
    }
    uint16_t *flags = PyMem_Calloc(65536, sizeof(uint16_t));
    if (flags == NULL) return PyErr_NoMemory();
    Py_ssize_t count = 0;
    for (size_t k = 0; k < KIND_KEY_COUNT; k++) {
        PyObject *ids = PyDict_GetItemString(kinds, KIND_KEYS[k]);
        PyObject *iterator = ids == NULL ? NULL : PyObject_GetIter(ids);
        if (iterator == NULL) {
            PyMem_Free(flags);
            if (!PyErr_Occurred()) PyErr_Format(PyExc_KeyError, "kinds: %s missing", KIND_KEYS[k]);
            return NULL;
        }
        for (PyObject *item; (item = PyIter_Next(iterator)) != NULL;) {
            long id = PyLong_AsLong(item);
            Py_DECREF(item);
            if (id < 0 || id > 65535) {
                Py_DECREF(iterator);
                PyMem_Free(flags);
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "kinds: node kind ids are 0..65535");
                return NULL;
            }
            flags[id] |= (uint16_t)(1u << k);
            if (id + 1 > count) count = id + 1;
        }
        Py_DECREF(iterator);
        if (PyErr_Occurred()) {
            PyMem_Free(flags);
            return NULL;
        }
    }
    PyMem_Free(kind_flags);
    kind_flags = flags;
    kind_flag_count = count;
    import_keyword = (TSSymbol)keyword;
    field_body = (TSFieldId)body;
    field_superclasses = (TSFieldId)superclasses;
    field_function = (TSFieldId)function;
    Py_INCREF(tree);
    Py_XSETREF(tree_type, (PyTypeObject *)tree);
    Py_INCREF(definition);
    Py_XSETREF(definition_type, (PyTypeObject *)definition);
    Py_INCREF(import);
    Py_XSETREF(import_type, (PyTypeObject *)import);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"setup", setup, METH_VARARGS, setup_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_treescan", "python_symbols.scan_tree's reading of a tree, in C.", -1, methods,
};

PyMODINIT_FUNC PyInit__treescan(void) {
    s_function = PyUnicode_InternFromString("function");
    s_method = PyUnicode_InternFromString("method");
    s_class = PyUnicode_InternFromString("class");
    s_constant = PyUnicode_InternFromString("constant");
    s_space = PyUnicode_InternFromString(" ");
    s_newline = PyUnicode_InternFromString("\n");
    s_more = PyUnicode_InternFromString(" ...:");
    s_empty = PyUnicode_InternFromString("");
    s_strip = PyUnicode_InternFromString("strip");
    if (!s_function || !s_method || !s_class || !s_constant || !s_space || !s_newline || !s_more || !s_empty || !s_strip) return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddStringConstant(module, "TREE_SITTER_RELEASE", "0.26.1") < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
