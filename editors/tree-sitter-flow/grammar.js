/**
 * @file tree-sitter grammar for flowc `.flow` files.
 *
 * Written from grammar/flow.pest (the language's only grammar) rule by rule; the corpus tests and
 * every .flow file of the repository (flows/, stdlib/, the ```flow blocks of docs/) parse with no
 * ERROR node (tests/editors.rs). Operator precedence is the Pratt table of src/syntax/parser.rs.
 */

const PREC = {
  or: 1,
  and: 2,
  not: 3,
  compare: 4,
  default: 5,
  add: 6,
  mul: 7,
  neg: 8,
  postfix: 9,
};

// Words that are keywords somewhere but stay usable as field and argument names.
const NAME_KEYWORDS = [
  'after', 'and', 'as', 'at', 'backoff', 'by', 'call', 'changed', 'concurrency', 'created', 'databases', 'else', 'emit',
  'entity', 'error', 'event', 'example', 'expect', 'factor', 'fail', 'failed', 'fails', 'fallback', 'false', 'flow', 'for', 'grant',
  'hangs', 'html', 'if', 'in', 'input', 'jitter', 'let', 'manual', 'match', 'no', 'none', 'not', 'notion', 'on', 'or',
  'output', 'ran', 'read', 'read_write', 'retry', 'returns', 'schedule', 'send', 'setting', 'skipped', 'slack', 'sms', 'start', 'step',
  'stub', 'subject', 'template', 'test', 'text', 'then', 'timeout', 'times', 'to', 'true', 'until', 'unverified', 'use', 'verified',
  'wait', 'webhook', 'where', 'with', 'write', 'yield',
];

const sep1 = (rule, separator) => seq(rule, repeat(seq(separator, rule)));
const commaSep = (rule) => optional(seq(sep1(rule, ','), optional(',')));

module.exports = grammar({
  name: 'flow',

  word: ($) => $.identifier,

  extras: ($) => [/\s/, $.comment, $.block_comment],

  conflicts: ($) => [
    // `retry 3` followed by `on`: the retry's error classes, or the flow's next `on` line.
    [$.retry_policy],
    // `fallback {}`: an empty record or an empty block.
    [$.record, $.block],
    // `fallback { wait ... }`: a block, or a record whose fields are keywords (fields need no
    // commas between them); the token after the keyword decides.
    [$._name, $.step_statement],
    [$._name, $.let_statement],
    [$._name, $.if_statement],
    [$._name, $.match_statement],
    [$._name, $.wait_statement],
    [$._name, $.emit_statement],
    [$._name, $.fail_statement],
    [$._name, $.yield_statement],
  ],

  rules: {
    source_file: ($) => repeat($._item),

    _item: ($) => choice($.use_declaration, $.entity_declaration, $.flow_declaration, $.template_declaration, $.test_declaration),

    comment: (_) => token(choice(seq('//', /[^\n]*/))),
    block_comment: (_) => token(seq('/*', /[^*]*\*+([^/*][^*]*\*+)*/, '/')),
    doc_comment: (_) => token(prec(2, seq('///', /[^\n]*/))),
    _docs: ($) => repeat1($.doc_comment),

    // ------------------------------------------------------------------ modules and entities
    use_declaration: ($) => seq('use', field('path', $.module_path), optional(seq('as', field('alias', $.identifier)))),
    module_path: ($) => sep1($.identifier, token.immediate('.')),

    entity_declaration: ($) =>
      seq(
        optional($._docs),
        'entity',
        field('name', $.identifier),
        optional(field('title', $.string)),
        '{',
        repeat(choice($.databases, $.grant, $.setting)),
        '}',
      ),
    databases: ($) => seq('databases', sep1($.identifier, ','), optional(',')),
    grant: ($) => seq('grant', $.access, $.identifier_list, 'to', $.identifier_list),
    access: (_) => choice('read_write', 'read', 'write'),
    identifier_list: ($) => prec.right(sep1($.identifier, ',')),
    setting: ($) => seq(optional($._docs), 'setting', field('name', $.identifier), '=', field('value', $._expression)),

    // ------------------------------------------------------------------ templates
    template_declaration: ($) =>
      seq(
        optional($._docs),
        'template',
        field('name', $.identifier),
        '{',
        repeat(choice($.template_part, $.template_example)),
        '}',
      ),
    template_part: ($) =>
      seq(
        field('kind', choice('subject', 'text', 'html', 'sms', 'slack')),
        field('body', choice($.raw_string, $.template_string)),
      ),
    template_example: ($) => seq('example', field('value', $._expression)),
    template_string: (_) => token(seq('"', repeat(choice(/[^"\\\n]/, /\\./)), '"')),

    // ------------------------------------------------------------------ flows
    flow_declaration: ($) =>
      seq(
        optional($._docs),
        'flow',
        field('name', $.identifier),
        'for',
        field('entity', $.identifier),
        '{',
        repeat(choice($.trigger, $.input_declaration, $.output_declaration, $.error_handler, $._statement)),
        '}',
      ),

    trigger: ($) =>
      seq('on', choice($.webhook_trigger, $.notion_trigger, $.schedule_trigger, $.manual_trigger, $.event_trigger)),
    webhook_trigger: ($) => seq('webhook', $.string, optional(choice(seq('verified', 'by', $.identifier), 'unverified'))),
    notion_trigger: ($) =>
      seq('notion', field('database', $.identifier), choice('created', seq('changed', $.string, optional(seq('to', $._expression))))),
    schedule_trigger: ($) => seq('schedule', $.string, optional(seq('in', $.string))),
    manual_trigger: (_) => 'manual',
    event_trigger: ($) => seq('event', $.string),

    input_declaration: ($) => seq('input', '{', repeat($.field_declaration), '}'),
    field_declaration: ($) =>
      seq(optional($._docs), field('name', $._name), ':', field('type', $.type), optional(seq('=', $._expression)), optional(',')),
    output_declaration: ($) => seq('output', $._expression),
    error_handler: ($) => seq('on', 'error', $.block),

    block: ($) => seq('{', repeat($._statement), '}'),

    _statement: ($) =>
      choice(
        $.step_statement,
        $.let_statement,
        $.if_statement,
        $.match_statement,
        $.wait_statement,
        $.emit_statement,
        $.fail_statement,
        $.yield_statement,
      ),

    step_statement: ($) =>
      seq(
        optional($._docs),
        'step',
        field('name', $.identifier),
        '=',
        field('body', choice($.wait_event, $.fan_out, $.call)),
        repeat($._policy),
        optional(';'),
      ),
    call: ($) => seq(field('callee', $.qualified_name), '(', commaSep($.argument), ')'),
    qualified_name: ($) => sep1($.identifier, token.immediate('.')),
    argument: ($) => seq(field('name', $._name), optional(seq(':', field('value', $._expression)))),
    wait_event: ($) => seq('wait', 'for', 'event', $.string, optional(seq('where', $._expression))),
    fan_out: ($) =>
      seq('for', field('variable', $.identifier), 'in', field('list', $._expression), optional(seq('concurrency', $.integer)), $.block),

    _policy: ($) => choice($.retry_policy, $.timeout_policy, $.fallback_policy, $.after_policy),
    retry_policy: ($) =>
      seq('retry', $.integer, optional('times'), optional($.backoff), optional($.jitter), optional(seq('on', $.identifier_list))),
    backoff: ($) => seq('backoff', $.duration, '..', $.duration, optional(seq('factor', $.number))),
    jitter: (_) => choice(seq('no', 'jitter'), 'jitter'),
    timeout_policy: ($) => seq('timeout', $._expression),
    fallback_policy: ($) => seq('fallback', choice($.block, $._expression)),
    after_policy: ($) => seq('after', $.identifier_list),

    let_statement: ($) =>
      seq(optional($._docs), 'let', field('name', $.identifier), '=', field('value', $._expression), optional(';')),
    if_statement: ($) =>
      prec.right(
        seq(
          optional($._docs),
          'if',
          field('condition', $._expression),
          $.block,
          repeat(seq('else', 'if', $._expression, $.block)),
          optional(seq('else', $.block)),
        ),
      ),
    match_statement: ($) => seq(optional($._docs), 'match', $._expression, '{', repeat($.match_arm), '}'),
    match_arm: ($) => seq(optional($._docs), $.pattern, '=>', $.block, optional(',')),
    pattern: ($) => choice('_', sep1($._literal, '|')),
    wait_statement: ($) => seq(optional($._docs), 'wait', choice(seq('until', $._expression), $._expression), optional(';')),
    emit_statement: ($) => prec.right(seq(optional($._docs), 'emit', $.string, optional($.record), optional(';'))),
    fail_statement: ($) => seq(optional($._docs), 'fail', $._expression, optional(';')),
    yield_statement: ($) => seq(optional($._docs), 'yield', $._expression, optional(';')),

    // ------------------------------------------------------------------ tests
    test_declaration: ($) =>
      seq(
        optional($._docs),
        'test',
        field('name', $.string),
        'for',
        field('flow', $.identifier),
        '{',
        repeat(choice($.test_input, $.test_start, $.stub, $.test_event, $.expect)),
        '}',
      ),
    test_input: ($) => seq('input', $._expression),
    test_start: ($) => seq('start', 'at', $.string),
    stub: ($) => seq('stub', choice(seq('step', $.identifier), $.qualified_name), sep1($._stub_outcome, 'then')),
    _stub_outcome: ($) => choice($.stub_returns, $.stub_fails, 'hangs'),
    stub_returns: ($) => seq('returns', $._expression),
    stub_fails: ($) => prec.right(seq('fails', $.identifier, optional($.string), optional(seq($.integer, 'times')))),
    test_event: ($) =>
      prec.right(seq('send', 'event', $.string, optional($._expression), optional(seq('after', $.duration)))),
    expect: ($) =>
      seq(
        'expect',
        choice(
          seq('step', $.identifier, choice('ran', 'skipped', 'failed')),
          prec.right(seq('call', $.qualified_name, optional(seq($.integer, 'times')), optional(seq('with', $._expression)))),
          seq('no', 'call', $.qualified_name),
          $._expression,
        ),
      ),

    // ------------------------------------------------------------------ expressions
    _expression: ($) => choice($.binary_expression, $.unary_expression, $._postfix),

    binary_expression: ($) => {
      const table = [
        ['or', PREC.or],
        ['and', PREC.and],
        ['==', PREC.compare],
        ['!=', PREC.compare],
        ['<', PREC.compare],
        ['<=', PREC.compare],
        ['>', PREC.compare],
        ['>=', PREC.compare],
        ['in', PREC.compare],
        ['+', PREC.add],
        ['-', PREC.add],
        ['*', PREC.mul],
        ['/', PREC.mul],
      ];
      return choice(
        ...table.map(([op, p]) => prec.left(p, seq(field('left', $._expression), field('operator', op), field('right', $._expression)))),
        prec.right(PREC.default, seq(field('left', $._expression), field('operator', '??'), field('right', $._expression))),
      );
    },
    unary_expression: ($) =>
      choice(prec(PREC.not, seq('not', $._expression)), prec(PREC.neg, seq('-', $._expression))),

    _postfix: ($) => choice($.field_expression, $.index_expression, $._primary),
    field_expression: ($) =>
      prec(PREC.postfix, seq(field('value', $._postfix), '.', field('field', choice($._name, $.string)))),
    index_expression: ($) => prec(PREC.postfix, seq($._postfix, '[', $._expression, ']')),

    _primary: ($) =>
      choice(
        $._literal,
        $.match_expression,
        $.if_expression,
        $.function_call,
        $.list,
        $.record,
        $.identifier,
        $.parenthesized_expression,
      ),
    parenthesized_expression: ($) => seq('(', $._expression, ')'),
    function_call: ($) => seq(field('function', $.identifier), '(', commaSep($._expression), ')'),
    list: ($) => seq('[', commaSep($._expression), ']'),
    record: ($) => seq('{', optional(seq(sep1($.record_field, optional(',')), optional(','))), '}'),
    record_field: ($) => seq(field('name', choice($._name, $.string)), optional(seq(':', field('value', $._expression)))),
    if_expression: ($) =>
      seq('if', $._expression, '{', $._expression, '}', 'else', choice($.if_expression, seq('{', $._expression, '}'))),
    match_expression: ($) => seq('match', $._expression, '{', repeat(seq($.match_expression_arm, optional(','))), '}'),
    match_expression_arm: ($) => seq($.pattern, '=>', $._expression),

    _literal: ($) => choice($.duration, $.number, $.raw_string, $.string, $.boolean, $.none),
    boolean: (_) => choice('true', 'false'),
    none: (_) => 'none',

    // ------------------------------------------------------------------ types
    type: ($) => seq(choice($.list_type, $.record_type, $.identifier), optional('?')),
    list_type: ($) => seq('[', $.type, ']'),
    record_type: ($) => seq('{', repeat($.field_declaration), '}'),

    // ------------------------------------------------------------------ lexical
    // A name where any word may stand (after `.`, before `:`): keywords included.
    _name: ($) => alias(choice($.identifier, ...NAME_KEYWORDS), $.identifier),
    identifier: (_) => /[A-Za-z_][A-Za-z0-9_]*/,
    // Malformed durations (`1.5h`, `2days`) are still durations here: the checker reports them.
    duration: (_) => token(prec(1, /[0-9]+(\.[0-9]+)?[A-Za-z][A-Za-z0-9_]*/)),
    number: (_) => /[0-9]+(\.[0-9]+)?/,
    integer: (_) => /[0-9]+/,
    string: ($) =>
      seq('"', repeat(choice($.interpolation, $.escape_sequence, $._string_text)), token.immediate('"')),
    _string_text: (_) => token.immediate(prec(1, /([^"\\{\n]|\{[^{"\\\n])+|\{/)),
    escape_sequence: (_) => token.immediate(/\\["\\nt{}]/),
    interpolation: ($) => seq(token.immediate(prec(2, '{{')), $._expression, '}}'),
    raw_string: (_) => token(prec(2, seq('"""', repeat(choice(/[^"]/, /"[^"]/, /""[^"]/)), '"""'))),
  },
});
