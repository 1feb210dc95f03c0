"""PLY parser for PEL: tokens -> ast.Model, reporting every syntax error (E0005) found in one pass.

Every rule is a `p_<name>` function whose docstring is its BNF; the bodies build one node with the
helpers of `pel.frontend.build`. Statements are juxtaposed (no separators): the lexer marks tokens that
begin a line, and a `(` or `[` that begins a line is never a call or an index (`NL_LPAREN`,
`NL_LBRACKET`), so `var x: T` followed by `x[0] = e` on the next line (or even the same line) parses.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from pathlib import Path

from ply import yacc

from pel.cachedir import cache_dir, make_private
from pel.diagnostics import CompileError, Diagnostic, Span
from pel.fileio import write_atomic
from pel.frontend import ast
from pel.frontend import astbuild as b
from pel.frontend.lexer import RawToken, lex_raw
from pel.frontend.lexer import tokens as _lexer_tokens

tokens = (*_lexer_tokens, "NL_LPAREN", "NL_LBRACKET", "NL_FROM", "EXPR_START")

precedence = (
    ("nonassoc", "IFTHEN"),
    ("nonassoc", "ELSE"),
    ("right", "IMPLIES"),
    ("left", "OR"),
    ("left", "AND"),
    ("left", "EQ", "NE"),
    ("left", "LT", "LE", "GT", "GE"),
    ("nonassoc", "DOTDOT"),
    ("left", "PLUS", "MINUS"),
    ("left", "TIMES", "DIVIDE", "MOD"),
    ("left", "AS"),
    ("right", "POW"),
    ("right", "UMINUS", "NOT"),  # spec §0: unary binds tighter than `^` (-x^2 is (-x)^2), looser than postfix
    ("left", "WITH"),  # `x as T with f(…)`: the `with` belongs to the cast
    ("left", "LPAREN", "LBRACKET", "DOT", "DCOLON", "CHANGES"),  # postfix forms always extend
)

start = "program"


def _identity(rule):
    """Marks a rule whose action is `p[0] = p[1]`: the fast driver passes the value on without calling it."""
    rule.identity = True
    return rule

# ---------------------------------------------------------------------------------------------
# Program, imports, model
# ---------------------------------------------------------------------------------------------


def p_program(p):
    """program : imports model_decl semis"""
    p[0] = b.model_with_imports(p[2], p[1])


def p_program_expression(p):
    """program : EXPR_START expr"""
    p[0] = p[2]


def p_semis(p):
    """semis : empty
    | semis SEMI"""


def p_imports(p):
    """imports : empty
    | imports import_decl
    | imports SEMI"""
    p[0] = b.append(p[1], p[2] if len(p) == 3 and isinstance(p[2], ast.ImportDecl) else None)


def p_imports_error(p):
    """imports : imports error"""
    p[0] = p[1]
    p.parser.errok()


def p_import_plain(p):
    """import_decl : IMPORT dotted opt_alias"""
    p[0] = ast.ImportDecl(b.span(p, 1, 3), p[2].value, p[3])


def p_import_file(p):
    """import_decl : IMPORT STRING opt_alias"""
    p[0] = ast.ImportDecl(b.span(p, 1, 3), p[2], p[3], is_file=True)


def p_import_from_suffix(p):
    """import_decl : IMPORT dotted FROM dotted"""
    p[0] = ast.ImportDecl(b.span(p, 1, 4), p[4].value, None, (p[2].value,))


def p_import_from(p):
    """import_decl : FROM dotted IMPORT name_list
    | NL_FROM dotted IMPORT name_list"""
    p[0] = ast.ImportDecl(b.span(p, 1, 4), p[2].value, None, tuple(t.value for t in p[4]))


def p_dotted(p):
    """dotted : NAME
    | dotted DOT NAME"""
    p[0] = b.Word(p[1], p.slice[1].span) if len(p) == 2 else b.Word(f"{p[1].value}.{p[3]}", b.span(p, 1, 3))


def p_opt_alias(p):
    """opt_alias : empty
    | AS NAME"""
    p[0] = p[2] if len(p) == 3 else None


def p_name_list(p):
    """name_list : NAME
    | name_list COMMA NAME"""
    p[0] = [p.slice[1]] if len(p) == 2 else b.append(p[1], p.slice[3])


def p_model_decl(p):
    """model_decl : MODEL NAME LBRACE items RBRACE"""
    p[0] = b.model(p, p[2], p[4])


def p_items(p):
    """items : empty
    | items item
    | items SEMI"""
    p[0] = b.append(p[1], p[2] if len(p) == 3 and p[2] != ";" else None)


def p_items_error(p):
    """items : items error"""
    p[0] = p[1]
    p.parser.errok()


@_identity
def p_item(p):
    """item : param_decl
    | var_decl
    | series_rule
    | constraint_decl
    | policy_decl
    | func_decl
    | simulate_decl
    | output_decl
    | record_decl
    | enum_decl
    | import_decl
    | scenario_decl"""
    p[0] = p[1]


def p_empty(p):
    """empty :"""
    p[0] = None


# ---------------------------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------------------------


def p_type(p):
    """type : type_atom
    | type_atom PER type_word"""
    p[0] = p[1] if len(p) == 2 else b.type_per(p, p[1], p[3].value)


def p_type_word(p):
    """type_word : NAME
    | TYPENAME"""
    p[0] = p.slice[1]


def p_type_atom_name(p):
    """type_atom : type_word"""
    p[0] = b.type_named(p[1].value, b.span(p, 1, 1))


def p_type_atom_generic(p):
    """type_atom : type_word LT type_args GT"""
    p[0] = b.type_named(p[1].value, b.span(p, 1, 4), tuple(p[3]))


def p_type_args(p):
    """type_args : type
    | type_args COMMA type"""
    p[0] = [p[1]] if len(p) == 2 else b.append(p[1], p[3])


def p_type_atom_list(p):
    """type_atom : lbracket type RBRACKET"""
    p[0] = ast.TypeExpr(b.span(p, 1, 3), "Array", (p[2],))


def p_opt_type(p):
    """opt_type : empty
    | COLON type"""
    p[0] = p[2] if len(p) == 3 else None


# ---------------------------------------------------------------------------------------------
# Parameters, variables, time-series rules, provenance
# ---------------------------------------------------------------------------------------------


def p_param_decl(p):
    """param_decl : PARAM NAME opt_type param_value opt_prov"""
    p[0] = b.param(p, p[2], p[3], p[4], p[5])


def p_param_value(p):
    """param_value : empty
    | ASSIGN expr
    | TILDE dist_call"""
    p[0] = None if len(p) == 2 else (p[1], p[2])


def p_dist_call(p):
    """dist_call : NAME LPAREN args RPAREN"""
    p[0] = b.dist(b.span(p, 1, 4), p[1], p[3])


def p_var_decl(p):
    """var_decl : VAR opt_mut NAME opt_type opt_init opt_prov"""
    p[0] = b.var(p, p[3], p[4], p[5], p[2], prov=p[6])


def p_var_decl_rule(p):
    """var_decl : VAR opt_mut NAME LBRACKET expr RBRACKET opt_type ASSIGN expr opt_guard"""
    p[0] = b.var(p, p[3], p[7], p[9], p[2], index=b.index_pattern(p, p[5]), guard=p[10])


def p_opt_mut(p):
    """opt_mut : empty
    | MUT"""
    p[0] = len(p) == 2 and p[1] == "mut"


def p_opt_init(p):
    """opt_init : empty
    | ASSIGN expr"""
    p[0] = p[2] if len(p) == 3 else None


def p_opt_guard(p):
    """opt_guard : empty
    | FOR expr"""
    p[0] = p[2] if len(p) == 3 else None


def p_series_rule_indexed(p):
    """series_rule : NAME LBRACKET expr RBRACKET ASSIGN expr opt_guard opt_prov"""
    p[0] = ast.SeriesRule(b.span(p, 1, 8), p[1], b.index_pattern(p, p[3]), p[6], p[7], p[8])


def p_series_rule_plain(p):
    """series_rule : NAME ASSIGN expr opt_prov"""
    p[0] = ast.SeriesRule(b.span(p, 1, 4), p[1], None, p[3], None, p[4])


def p_opt_prov(p):
    """opt_prov : empty
    | LBRACE fields RBRACE"""
    p[0] = None if len(p) == 2 else b.provenance(b.span(p, 1, 3), p[2])


def p_fields(p):
    """fields : empty
    | fields field
    | fields COMMA"""
    p[0] = b.append(p[1], p[2] if len(p) == 3 and p[2] != "," else None)


@_identity
def p_field(p):
    """field : record_field"""
    p[0] = p[1]


def p_record_field(p):
    """record_field : field_key COLON expr"""
    p[0] = ast.KwArg(b.span(p, 1, 3), p[1].value, p[3])


def p_field_nested(p):
    """field : field_key LBRACE fields RBRACE"""
    p[0] = ast.KwArg(b.span(p, 1, 4), p[1].value, ast.RecordLit(b.span(p, 2, 4), tuple(p[3] or ())))


def p_field_key(p):
    """field_key : NAME
    | PARAM
    | RESERVED
    | TYPENAME
    | EVENT
    | MODEL
    | CHANGES"""
    p[0] = p.slice[1]


# ---------------------------------------------------------------------------------------------
# Constraints
# ---------------------------------------------------------------------------------------------


def p_constraint_inline(p):
    """constraint_decl : CONSTRAINT NAME COLON expr opt_scope opt_centries"""
    p[0] = b.constraint(p, p[2], p[4], p[5], p[6])


def p_constraint_block(p):
    """constraint_decl : CONSTRAINT NAME LBRACE centries RBRACE"""
    p[0] = b.constraint(p, p[2], None, None, p[4])


def p_opt_scope(p):
    """opt_scope : empty
    | FOR NAME scope_tail"""
    p[0] = None if len(p) == 2 else b.scope_all(p, p[2], p[3])


def p_scope_tail_in(p):
    """scope_tail : NAME IN expr"""
    p[0] = ("in", p[1], p[3], b.span(p, 1, 3))


def p_scope_tail_expr(p):
    """scope_tail : expr"""
    p[0] = ("expr", None, p[1], p[1].span)


def p_opt_centries(p):
    """opt_centries : empty
    | LBRACE centries RBRACE"""
    p[0] = None if len(p) == 2 else p[2]


def p_centries(p):
    """centries : empty
    | centries centry
    | centries COMMA"""
    p[0] = b.append(p[1] if p[1] is not None else [], p[2] if len(p) == 3 and p[2] != "," else None)


def p_centry_field(p):
    """centry : NAME COLON expr"""
    p[0] = ("field", p[1], p[3], b.span(p, 1, 3))


def p_centry_scope(p):
    """centry : FOR COLON expr"""
    p[0] = ("for", None, b.scope_cond(p[3]), b.span(p, 1, 3))


def p_centry_scope_all(p):
    """centry : FOR COLON NAME NAME"""
    p[0] = ("for", None, b.scope_words(p, p[3], p[4]), b.span(p, 1, 4))


def p_centry_clause(p):
    """centry : expr with_list"""
    p[0] = ("clause", None, b.clause(p, p[1], p[2]), None)


def p_with_list(p):
    """with_list : empty
    | with_list WITH NAME LPAREN args RPAREN"""
    p[0] = [] if len(p) == 2 else b.append(p[1], (p[3], p[5], b.span(p, 2, 6)))


# ---------------------------------------------------------------------------------------------
# Policies and their actions
# ---------------------------------------------------------------------------------------------


def p_policy_decl(p):
    """policy_decl : POLICY NAME LBRACE pentries RBRACE"""
    p[0] = b.policy(p, p[2], p[4])


def p_pentries(p):
    """pentries : empty
    | pentries pentry
    | pentries COMMA"""
    p[0] = b.append(p[1] if p[1] is not None else [], p[2] if len(p) == 3 and p[2] != "," else None)


def p_pentry_when(p):
    """pentry : WHEN COLON expr"""
    p[0] = ("when", p[3])


def p_pentry_then(p):
    """pentry : THEN COLON action"""
    p[0] = ("then", p[3])


def p_pentry_action(p):
    """pentry : action"""
    p[0] = ("then", p[1])


def p_pentry_field(p):
    """pentry : NAME COLON expr"""
    p[0] = ("field", ast.ProvField(b.span(p, 1, 3), p[1], p[3]))


def p_action_assign(p):
    """action : target assign_op expr"""
    p[0] = ast.AssignStmt(b.span(p, 1, 3), p[1], p[2], p[3])


def p_target_name(p):
    """target : NAME"""
    p[0] = ast.Name(p.slice[1].span, p[1])


def p_target_member(p):
    """target : target DOT NAME
    | target DCOLON NAME"""
    p[0] = ast.Member(b.span(p, 1, 3), p[1], p[3])


def p_target_index(p):
    """target : target LBRACKET expr RBRACKET"""
    p[0] = ast.Index(b.span(p, 1, 4), p[1], p[3])


def p_assign_op(p):
    """assign_op : ASSIGN
    | PLUSEQ
    | MINUSEQ
    | TIMESEQ
    | DIVEQ"""
    p[0] = "=" if p[1] == ":=" else p[1]


def p_action_emit(p):
    """action : EMIT EVENT LPAREN args RPAREN"""
    p[0] = b.emit(p, p[4])


def p_action_block(p):
    """action : LBRACE actions RBRACE"""
    p[0] = b.action_block(b.span(p, 1, 3), p[2])


def p_action_if(p):
    """action : IF expr THEN action %prec IFTHEN
    | IF expr THEN action ELSE action"""
    p[0] = ast.IfStmt(b.span(p, 1, len(p) - 1), p[2], b.stmts(p[4]), b.stmts(p[6]) if len(p) == 7 else ())


def p_actions(p):
    """actions : empty
    | actions action
    | actions COMMA
    | actions SEMI"""
    p[0] = b.append(p[1], p[2] if len(p) == 3 and p[2] not in (",", ";") else None)


# ---------------------------------------------------------------------------------------------
# Functions and statements
# ---------------------------------------------------------------------------------------------


def p_func_decl(p):
    """func_decl : FUNC NAME LPAREN fparams RPAREN opt_returns func_body"""
    p[0] = ast.FuncDecl(b.span(p, 1, 7), p[2], tuple(p[4] or ()), p[6], p[7])


@_identity
def p_fparams(p):
    """fparams : empty
    | fparam_list
    | fparam_list COMMA"""
    p[0] = p[1]


def p_fparam_list(p):
    """fparam_list : fparam
    | fparam_list COMMA fparam"""
    p[0] = [p[1]] if len(p) == 2 else b.append(p[1], p[3])


def p_fparam(p):
    """fparam : NAME opt_type"""
    p[0] = ast.FuncParam(b.span(p, 1, 2), p[1], p[2])


def p_opt_returns(p):
    """opt_returns : empty
    | ARROW type"""
    p[0] = p[2] if len(p) == 3 else None


@_identity
def p_func_body_block(p):
    """func_body : block"""
    p[0] = p[1]


def p_func_body_expr(p):
    """func_body : ASSIGN expr"""
    p[0] = (ast.ReturnStmt(p[2].span, p[2]),)


def p_block(p):
    """block : LBRACE stmts RBRACE
    | LBRACE RBRACE"""
    p[0] = tuple(p[2]) if len(p) == 4 else ()


def p_stmts(p):
    """stmts : stmt
    | stmts stmt
    | stmts SEMI"""
    p[0] = [p[1]] if len(p) == 2 else b.append(p[1], p[2] if p[2] != ";" else None)


def p_stmt_let(p):
    """stmt : VAR opt_mut NAME opt_type opt_init
    | LET opt_mut NAME opt_type opt_init"""
    p[0] = ast.LetStmt(b.span(p, 1, 5), p[3], p[4], p[5], p[2] or p[1] == "var")


def p_stmt_if(p):
    """stmt : IF expr block else_part"""
    p[0] = ast.IfStmt(b.span(p, 1, 4), p[2], p[3], p[4])


def p_else_part(p):
    """else_part : empty
    | ELSE block"""
    p[0] = p[2] if len(p) == 3 else ()


def p_else_if(p):
    """else_part : ELSE IF expr block else_part"""
    p[0] = (ast.IfStmt(b.span(p, 2, 5), p[3], p[4], p[5]),)


def p_stmt_for(p):
    """stmt : FOR NAME IN expr block"""
    p[0] = b.for_stmt(p, p[2], p[4], p[5])


@_identity
def p_stmt_simple(p):
    """stmt : simple_stmt"""
    p[0] = p[1]


def p_stmt_return(p):
    """simple_stmt : RETURN expr
    | RETURN"""
    p[0] = ast.ReturnStmt(b.span(p, 1, len(p) - 1), p[2] if len(p) == 3 else None)


def p_stmt_assign(p):
    """simple_stmt : postfix assign_op expr"""
    p[0] = ast.AssignStmt(b.span(p, 1, 3), p[1], p[2], p[3])


def p_stmt_if_then(p):
    """simple_stmt : IF expr THEN simple_stmt %prec IFTHEN
    | IF expr THEN simple_stmt ELSE simple_stmt"""
    # `if c then return a else return b`: branches that are expressions parse as an if-expression instead
    p[0] = ast.IfStmt(b.span(p, 1, len(p) - 1), p[2], (p[4],), (p[6],) if len(p) == 7 else ())


def p_stmt_expr(p):
    """stmt : expr"""
    p[0] = ast.ExprStmt(p[1].span, p[1])


# ---------------------------------------------------------------------------------------------
# simulate, output, record, enum
# ---------------------------------------------------------------------------------------------


def p_scenario_decl(p):
    """scenario_decl : NAME NAME LBRACE scenario_entries RBRACE
    | NAME NAME LBRACE scenario_entries COMMA RBRACE"""
    p[0] = b.scenario(p, p[1], p[2], p[4])


def p_scenario_entries(p):
    """scenario_entries : empty
    | scenario_entry
    | scenario_entries COMMA scenario_entry"""
    if len(p) == 2:
        p[0] = [] if p[1] is None else [p[1]]
    else:
        p[0] = b.append(p[1], p[3])


def p_scenario_entry(p):
    """scenario_entry : NAME ASSIGN expr
    | NAME TILDE dist_call"""
    p[0] = ast.ScenarioEntry(b.span(p, 1, 3), p[1], p[3], p.slice[1].span)


def p_simulate_decl(p):
    """simulate_decl : SIMULATE sim_mode sim_clauses"""
    p[0] = b.simulate(p, p[2], p[3])


@_identity
def p_sim_mode(p):
    """sim_mode : empty
    | DETERMINISTIC
    | MONTE_CARLO"""
    p[0] = p[1]


def p_sim_clauses(p):
    """sim_clauses : empty
    | sim_clauses WITH NAME expr
    | sim_clauses FOR expr"""
    p[0] = [*(p[1] or []), (p[3], p[4]) if len(p) == 5 else ("for", p[3])] if len(p) > 2 else []


def p_output_decl(p):
    """output_decl : OUTPUT output_items
    | OUTPUT lbracket output_items opt_comma RBRACKET"""
    p[0] = ast.OutputDecl(b.span(p, 1, len(p) - 1), tuple(p[2] if len(p) == 3 else p[3]))


def p_output_items(p):
    """output_items : output_item
    | output_items COMMA output_item"""
    p[0] = [p[1]] if len(p) == 2 else b.append(p[1], p[3])


def p_output_item(p):
    """output_item : NAME
    | NAME ASSIGN expr"""
    p[0] = ast.OutputItem(b.span(p, 1, len(p) - 1), p[1], p[3] if len(p) == 4 else None)


def p_opt_comma(p):
    """opt_comma : empty
    | COMMA"""


def p_record_decl(p):
    """record_decl : RECORD NAME LBRACE record_fields RBRACE"""
    p[0] = ast.RecordDecl(b.span(p, 1, 5), p[2], tuple(p[4] or ()))


def p_record_fields(p):
    """record_fields : empty
    | record_fields fparam
    | record_fields COMMA"""
    p[0] = b.append(p[1], p[2] if len(p) == 3 and p[2] != "," else None)


def p_enum_decl(p):
    """enum_decl : ENUM NAME LBRACE enum_variants RBRACE"""
    p[0] = ast.EnumDecl(b.span(p, 1, 5), p[2], tuple(p[4] or ()))


def p_enum_variants(p):
    """enum_variants : empty
    | enum_variants NAME
    | enum_variants COMMA"""
    p[0] = b.append(p[1], p[2] if len(p) == 3 and p[2] != "," else None)


# ---------------------------------------------------------------------------------------------
# Expressions: operators
# ---------------------------------------------------------------------------------------------


def p_expr_binary(p):
    """expr : expr PLUS expr
    | expr MINUS expr
    | expr TIMES expr
    | expr DIVIDE expr
    | expr MOD expr
    | expr POW expr
    | expr EQ expr
    | expr NE expr
    | expr AND expr
    | expr OR expr
    | expr IMPLIES expr"""
    p[0] = b.binary(p, p[2], p[1], p[3])


def p_expr_compare(p):
    """expr : expr LT expr
    | expr LE expr
    | expr GT expr
    | expr GE expr"""
    p[0] = b.compare(p, p[2], p[1], p[3])


def p_expr_unary(p):
    """expr : MINUS expr %prec UMINUS
    | PLUS expr %prec UMINUS
    | NOT expr"""
    p[0] = ast.Unary(b.span(p, 1, 2), "!" if p[1] in ("not", "!") else p[1], p[2])


def p_expr_range(p):
    """expr : expr DOTDOT expr"""
    p[0] = ast.RangeExpr(b.span(p, 1, 3), p[1], p[3])


def p_expr_if(p):
    """expr : IF expr THEN expr ELSE expr
    | IF expr THEN expr %prec IFTHEN"""
    p[0] = ast.IfExpr(b.span(p, 1, len(p) - 1), p[2], p[4], p[6] if len(p) == 7 else None)


def p_expr_cast(p):
    """expr : expr AS type
    | expr AS type WITH postfix"""
    p[0] = ast.Cast(b.span(p, 1, len(p) - 1), p[1], p[3], p[5] if len(p) == 6 else None)


def p_expr_lambda(p):
    """expr : lparen lambda_params RPAREN ARROW expr %prec IFTHEN"""
    p[0] = ast.Lambda(b.span(p, 1, 5), tuple(p[2]), p[5])


def p_lambda_params(p):
    """lambda_params : NAME COLON type
    | lambda_params COMMA NAME COLON type"""
    p[0] = b.lambda_params(p)


@_identity
def p_expr_postfix(p):
    """expr : postfix"""
    p[0] = p[1]


# ---------------------------------------------------------------------------------------------
# Expressions: postfix forms (member, index, call, comprehension, `changes`)
# ---------------------------------------------------------------------------------------------


@_identity
def p_postfix_primary(p):
    """postfix : primary"""
    p[0] = p[1]


def p_postfix_index(p):
    """postfix : postfix LBRACKET expr RBRACKET"""
    p[0] = ast.Index(b.span(p, 1, 4), p[1], p[3])


def p_postfix_call(p):
    """postfix : postfix LPAREN args RPAREN"""
    p[0] = b.call(b.span(p, 1, 4), p[1], p[3])


def p_postfix_comprehension(p):
    """postfix : postfix LPAREN expr FOR NAME IN expr comp_filter RPAREN"""
    p[0] = b.comprehension(p, p[1], p[3], p[5], p[7], p[8])


def p_comp_filter(p):
    """comp_filter : empty
    | IF expr"""
    p[0] = p[2] if len(p) == 3 else None


def p_postfix_member(p):
    """postfix : postfix DOT NAME
    | postfix DCOLON NAME"""
    p[0] = ast.Member(b.span(p, 1, 3), p[1], p[3])


def p_postfix_changes(p):
    """postfix : postfix CHANGES"""
    p[0] = ast.Changes(b.span(p, 1, 2), p[1])


def p_args(p):
    """args : empty
    | arg_list
    | arg_list COMMA"""
    p[0] = p[1] or []


def p_arg_list(p):
    """arg_list : arg
    | arg_list COMMA arg"""
    p[0] = [p[1]] if len(p) == 2 else b.append(p[1], p[3])


@_identity
def p_arg(p):
    """arg : expr"""
    p[0] = p[1]


def p_arg_named(p):
    """arg : NAME ASSIGN expr
    | NAME COLON expr"""
    p[0] = ast.KwArg(b.span(p, 1, 3), p[1], p[3])


# ---------------------------------------------------------------------------------------------
# Expressions: primaries
# ---------------------------------------------------------------------------------------------


def p_primary_number(p):
    """primary : NUMBER"""
    p[0] = ast.Number(p.slice[1].span, p[1][0], p[1][1], p[1][2])


def p_primary_money(p):
    """primary : MONEY"""
    p[0] = ast.Money(p.slice[1].span, *p[1])


def p_primary_percent(p):
    """primary : PERCENT"""
    p[0] = ast.Percent(p.slice[1].span, *p[1])


def p_primary_duration(p):
    """primary : DURATION"""
    p[0] = ast.DurationLit(p.slice[1].span, *p[1])


def p_primary_string(p):
    """primary : STRING"""
    p[0] = ast.String(p.slice[1].span, p[1])


def p_primary_bool(p):
    """primary : TRUE
    | FALSE"""
    p[0] = ast.Bool(p.slice[1].span, p[1] == "true")


def p_primary_name(p):
    """primary : NAME
    | CHANGES"""
    p[0] = ast.Name(p.slice[1].span, p[1])


def p_primary_paren(p):
    """primary : lparen expr RPAREN"""
    p[0] = b.parenthesized(p, p[2])


def p_primary_tuple(p):
    """primary : lparen expr COMMA elements RPAREN"""
    p[0] = ast.TupleLit(b.span(p, 1, 5), (p[2], *(p[4] or ())))


def p_primary_array(p):
    """primary : lbracket elements RBRACKET"""
    p[0] = b.array(b.span(p, 1, 3), p[2] or [])


@_identity
def p_elements(p):
    """elements : empty
    | element_list
    | element_list COMMA"""
    p[0] = p[1]


def p_element_list(p):
    """element_list : expr
    | element_list COMMA expr"""
    p[0] = [p[1]] if len(p) == 2 else b.append(p[1], p[3])


def p_primary_dist(p):
    """primary : TILDE dist_call"""
    p[0] = b.respan(p[2], b.span(p, 1, 2))


def p_primary_record(p):
    """primary : LBRACE record_entries RBRACE"""
    p[0] = ast.RecordLit(b.span(p, 1, 3), tuple(p[2]))


def p_record_entries(p):
    """record_entries : record_field
    | record_entries record_field
    | record_entries COMMA"""
    p[0] = [p[1]] if len(p) == 2 else b.append(p[1], p[2] if p[2] != "," else None)


def p_primary_block(p):
    """primary : LBRACE stmts RBRACE
    | LBRACE RBRACE"""
    p[0] = ast.BlockExpr(b.span(p, 1, len(p) - 1), tuple(p[2]) if len(p) == 4 else ())


def p_lparen(p):
    """lparen : LPAREN
    | NL_LPAREN"""
    p[0] = p.slice[1]


def p_lbracket(p):
    """lbracket : LBRACKET
    | NL_LBRACKET"""
    p[0] = p.slice[1]


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def p_error(tok):
    """Never called: each recovering parse has an error function of its own (see _recovering_parse)."""
    raise AssertionError("p_error is replaced per parse")


class _Tables:
    """The LALR tables and the fast driver's plan, built once per process (read-only afterwards)."""

    lock = threading.Lock()
    table: yacc.LRTable | None = None
    parser: yacc.LRParser | None = None  # read-only use: its action/goto tables and productions
    plan: list | None = None
    steps: list | None = None


def _table_path() -> Path:
    """The LALR tables' cache file in PEL's cache folder, keyed by this grammar's source and PLY's version."""
    key = hashlib.sha256(Path(__file__).read_bytes() + yacc.__version__.encode()).hexdigest()[:20]
    return cache_dir() / f"pel_parser_{key}.json"


def _table_json(parser: yacc.LRParser) -> bytes:
    """The tables as JSON (no pickle: reading a cache file can never run code), with a digest of the content."""
    body = {
        "action": {str(k): v for k, v in parser.action.items()},
        "goto": {str(k): v for k, v in parser.goto.items()},
        "productions": [[p.str, p.name, p.len, p.func, None, None]
                        for p in parser.productions],
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return json.dumps({"sha256": hashlib.sha256(text.encode()).hexdigest(), "tables": body},
                      separators=(",", ":")).encode()


def _read_tables(path: Path) -> yacc.LRTable | None:
    """Tables from a cache file whose content matches its digest; None for a missing, damaged or foreign file."""
    try:
        data = json.loads(path.read_bytes())
        body = data["tables"]
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        if hashlib.sha256(text.encode()).hexdigest() != data["sha256"]:
            return None
        lr = yacc.LRTable()
        lr.lr_method = "LALR"
        lr.lr_action = {int(k): v for k, v in body["action"].items()}
        lr.lr_goto = {int(k): v for k, v in body["goto"].items()}
        lr.lr_productions = [yacc.MiniProduction(*row) for row in body["productions"]]
        lr.bind_callables(vars(sys.modules[__name__]))
        return lr
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def _tables() -> tuple[yacc.LRTable, yacc.LRParser, list, list]:
    """The LALR tables, once per process: from PEL's cache folder, else built (~0.5 s) and cached there.

    Nothing is ever written beside the user's files (no parser.out, no parsetab.py), nor read from a cache folder
    others could write in."""
    with _Tables.lock:
        if _Tables.table is None:
            path = _table_path()
            private = make_private(path.parent) is None
            table = _read_tables(path) if private and path.exists() else None
            if table is None:
                built = yacc.yacc(module=sys.modules[__name__], debug=False, write_tables=False,
                                  errorlog=yacc.NullLogger())
                try:
                    if private:
                        write_atomic(path, _table_json(built))
                except OSError:  # an unwritable cache folder costs time, not correctness
                    pass
                table = (_read_tables(path) if private else None) or _table_from(built)
            parser = yacc.LRParser(table, p_error)
            _Tables.plan, _Tables.steps = _plan(parser), _steps(parser)
            _Tables.parser, _Tables.table = parser, table
        return _Tables.table, _Tables.parser, _Tables.plan, _Tables.steps  # type: ignore[return-value]


def _table_from(parser: yacc.LRParser) -> yacc.LRTable:
    lr = yacc.LRTable()
    lr.lr_method, lr.lr_action, lr.lr_goto, lr.lr_productions = "LALR", parser.action, parser.goto, parser.productions
    return lr


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


class _Sym:
    """A nonterminal on the fast driver's stack (the rule actions read `.value` through `p.slice`).

    No `__init__`: the driver sets both attributes itself, which is twice as fast as calling one.
    """

    __slots__ = ("type", "value")


def _sym(type_: str, value: object) -> _Sym:
    sym = _Sym()
    sym.type = type_
    sym.value = value
    return sym


class _Prod(list):
    """What a rule action receives from the fast driver: p[i] are the values (a plain list, so indexing is
    C-level), p.slice the symbols, p.lexer the token stream; the same interface as PLY's YaccProduction."""

    __slots__ = ("slice", "lexer", "parser")


class _Bail(Exception):
    """The fast driver met a syntax error: the parse is redone by PLY, which reports and recovers."""


class _TooDeep(Exception):
    """The parse stack passed _MAX_STACK: the nesting would overflow the recursive passes after the parser."""

    def __init__(self, token: RawToken) -> None:
        super().__init__(token.type)
        self.token = token


# The LALR stack depth allowed (the corpus needs at most 34). Deeper nesting is refused with E0005 so that
# the checker, the lowering and the IR hashing, which recurse over the tree, never exhaust Python's stack.
_MAX_STACK = 200


_END = RawToken("$end", None, 0, 0)


def _plan(parser: yacc.LRParser) -> list[tuple[str, int, object]]:
    """(name, length, action or None for an identity rule) per production number."""
    out = []
    for prod in parser.productions:
        func = prod.callable
        out.append((prod.name, prod.len, None if getattr(func, "identity", False) and prod.len else func))
    return out


def _steps(parser: yacc.LRParser) -> list[int | dict[str, int]]:
    """Per state: its default action (an int: the state needs no lookahead) or its actions by token type."""
    defaulted = parser.defaulted_states
    return [defaulted.get(state, parser.action[state]) for state in range(len(parser.action))]


def _fast_parse(parser: yacc.LRParser, plan: list, steps: list, stream: b.TokenStream) -> object:
    """The LALR automaton of PLY's tables driven without error recovery (the common case: valid input).

    Same shifts, reductions and actions as PLY's `parseopt_notrack`; raises _Bail at the first syntax error.
    """
    goto = parser.goto
    raws, n, i = stream.raws, len(stream.raws), 0  # fed directly: brace depth only matters for recovery
    states = [0]
    syms: list = [_END]
    vals: list = [None]
    state = 0
    lookahead = None
    ltype = ""
    while True:
        t = steps[state]
        if type(t) is not int:
            if lookahead is None:
                if i < n:
                    lookahead = raws[i]
                    i += 1
                    stream.pos = i  # for TokenStream.here()
                else:
                    lookahead = _END
                ltype = lookahead.type
            t = t.get(ltype)
            if t is None:
                raise _Bail
        if t > 0:  # shift
            states.append(t)
            state = t
            if len(states) > _MAX_STACK:
                raise _TooDeep(lookahead)
            syms.append(lookahead)
            vals.append(lookahead.value)
            lookahead = None
            continue
        if t == 0:  # accept
            return vals[-1]
        name, plen, func = plan[-t]
        if func is None:  # identity rule: the value of its first symbol, which stays on the stack
            if plen > 1:
                del syms[-plen + 1:], vals[-plen + 1:], states[-plen + 1:]
            if type(syms[-1]) is RawToken:  # a token's value has no span of its own: wrap it as PLY does
                syms[-1] = _sym(name, vals[-1])
            state = goto[states[-2]][name]
            states[-1] = state
            continue
        sym = _Sym()
        sym.type = name
        if plen:
            p = _Prod(vals[-plen - 1:])
            targ = syms[-plen - 1:]
            targ[0] = sym
            p.slice = targ
            p[0] = None
            p.lexer = stream
            p.parser = parser
            func(p)
            del syms[-plen:], vals[-plen:], states[-plen:]
        else:
            p = _Prod((None,))
            p.slice = [sym]
            p.lexer = stream
            p.parser = parser
            func(p)
        sym.value = value = p[0]
        syms.append(sym)
        vals.append(value)
        state = goto[states[-1]][name]
        states.append(state)


def _run(raws: list[RawToken], diags: list[Diagnostic], index, source: str) -> object:
    """Parse with the fast driver; on a syntax error, again with PLY's error recovery, for every error. Every
    call has its own state (parses on several threads at once do not meet)."""
    table, parser, plan, steps = _tables()
    lexical = list(diags)
    try:
        return _fast_parse(parser, plan, steps, b.TokenStream(raws, index, source, diags))
    except _Bail:
        diags[:] = lexical  # forget what the actions of the abandoned parse reported
    except _TooDeep as exc:
        diags[:] = lexical
        diags.append(Diagnostic(
            "error", "E0005", "this is nested too deeply for the compiler", exc.token.span,
            "split the expression into intermediate variables",
        ))  # PLY still parses the file below, for its other syntax errors; the tree is not used
    return _recovering_parse(table, b.TokenStream(raws, index, source, diags))


def _recovering_parse(table: yacc.LRTable, stream: b.TokenStream) -> object:
    """PLY's own driver with error recovery, on a parser object of this call's own."""
    holder: list[yacc.LRParser] = []
    own = yacc.LRParser(table, lambda tok: stream.syntax_error(tok, holder[0]))
    holder.append(own)
    return own.parse(lexer=stream, tokenfunc=stream.token)


def parse(source: str, file: str = "<string>") -> ast.Model:
    """Parse a whole PEL file; raises CompileError carrying every lexical and syntax error found."""
    raws, diags, index = lex_raw(source, file)
    model = _run(raws, diags, index, source)
    if diags or not isinstance(model, ast.Model):
        if not diags:
            diags.append(Diagnostic("error", "E0005", "could not parse the model", Span(file, 1, 1, 1, 1)))
        diags.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
        raise CompileError(diags, source)
    return model


def parse_expression(text: str, file: str = "<string>", line: int = 1, col: int = 1) -> ast.Expr:
    """Parse one expression (e.g. a `{expr}` of a constraint message) with spans offset to (line, col)."""
    raws, diags, index = lex_raw(text, file, line, col)
    start = RawToken("EXPR_START", "", 0, 0, line, col, line, col, False, file)
    expr = _run([start, *raws], diags, index, text)
    if diags or not isinstance(expr, ast.Expr):
        if not diags:
            diags.append(Diagnostic("error", "E0005", "expected an expression", Span(file, line, col, line, col)))
        # the source as the enclosing file would show it, so that carets line up when rendered
        raise CompileError(diags, "\n" * (line - 1) + " " * (col - 1) + text)
    return expr
