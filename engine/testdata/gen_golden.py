#!/usr/bin/env python3
"""Writes the golden Sim-format workflows in golden/. Each file holds a Sim export
envelope plus test cases (input, env, expected output, block order / skip set).
Edit here and re-run; the JSON files are what the Go test reads."""
import json, os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")

def sub(vals):
    return {k: {"id": k, "type": "code" if k == "code" else "short-input", "value": v} for k, v in vals.items()}

def block(bid, typ, name, params=None, data=None, x=0, **extra):
    b = {"id": bid, "type": typ, "name": name, "position": {"x": x, "y": 0}, "enabled": True,
         "subBlocks": sub(params or {}), "outputs": {}, "data": data or {}}
    b.update(extra)
    return b

def child(bid, typ, name, parent, params=None):
    return block(bid, typ, name, params, data={"parentId": parent, "extent": "parent"})

def start(fields=(), bid="start"):
    fmt = [{"id": "f%d" % i, "name": n, "type": t, "value": d} for i, (n, t, d) in enumerate(fields)]
    return block(bid, "start_trigger", "Start", {"inputFormat": fmt})

def fn(bid, name, code, parent=None, **params):
    p = {"code": code, "language": "javascript"}
    p.update(params)
    if parent:
        return child(bid, "function", name, parent, p)
    return block(bid, "function", name, p)

n_edge = [0]
def edge(s, t, h="source"):
    n_edge[0] += 1
    e = {"id": "e%d" % n_edge[0], "source": s, "target": t, "targetHandle": "target", "type": "default"}
    if h is not None:
        e["sourceHandle"] = h
    return e

def envelope(name, blocks, edges, variables=None):
    return {"version": "1.0", "exportedAt": "2026-01-01T00:00:00.000Z",
            "state": {"blocks": {b["id"]: b for b in blocks}, "edges": edges, "loops": {}, "parallels": {},
                      "variables": {v["id"]: v for v in (variables or [])},
                      "metadata": {"name": name, "description": "golden: " + name}}}

def write(fname, desc, wf, cases):
    with open(os.path.join(HERE, fname + ".json"), "w") as f:
        json.dump({"description": desc, "workflow": wf, "cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")

def fout(result, stdout=""):
    return {"result": result, "stdout": stdout}

# 1. linear. A reference inside a quoted string or template literal is spliced as
# JSON.stringify(value), so strings gain quotes (apps/sim/executor/variables/resolver.ts;
# pinned by Sim's resolver.test.ts).
write("linear", "start → function → function; refs by value, string-literal splicing (JSON.stringify), defaults and coercion",
      envelope("linear", [start([("name", "string", "World"), ("n", "number", 2)]),
                          fn("double", "Double It", "return <start.n> * 2"),
                          fn("greet", "Greet", "console.log('hi');\nreturn \"Hello <start.name>! \" + <doubleit.result> + ` ${'<start.name>'.length}`")],
               [edge("start", "double"), edge("double", "greet")]),
      [{"name": "defaults", "input": {},
        "expect": {"success": True, "output": fout('Hello "World"! 4 7', "hi"), "order": ["Start", "Double It", "Greet"]}},
       {"name": "coerced", "input": {"name": "Bob", "n": "21"},
        "expect": {"success": True, "output": fout('Hello "Bob"! 42 5', "hi"), "order": ["Start", "Double It", "Greet"]}},
       # Sim's coerceValue (apps/sim/executor/utils/start-block.ts) passes a value it cannot
       # convert through unchanged: "abc" * 2 is NaN, which JSON carries as null.
       {"name": "bad input type passes through", "input": {"n": "abc"},
        "expect": {"success": True, "output": fout('Hello "World"! null 7', "hi"), "order": ["Start", "Double It", "Greet"]}}])

# 2. condition with else
cond_rows = [{"id": "cond-if", "title": "if", "value": "<start.x> > 10"},
             {"id": "cond-elseif", "title": "else if", "value": "context.x === 7"},
             {"id": "cond-else", "title": "else", "value": ""}]
write("condition_else", "condition: first truthy wins, else, context = feeding block output; untaken branches skipped",
      envelope("condition", [start([("x", "number", 0)]),
                             block("cond", "condition", "Check", {"conditions": json.dumps(cond_rows)}),
                             fn("big", "Big", "return 'big ' + <start.x>"),
                             fn("seven", "Seven", "return 'seven'"),
                             fn("small", "Small", "return 'small'")],
               [edge("start", "cond"), edge("cond", "big", "condition-cond-if"),
                edge("cond", "seven", "condition-cond-elseif"), edge("cond", "small", "condition-cond-else")]),
      [{"name": "if", "input": {"x": 42}, "expect": {"success": True, "output": fout("big 42"), "order": ["Start", "Check", "Big"], "skipped": ["Seven", "Small"]}},
       {"name": "else if uses context", "input": {"x": 7}, "expect": {"success": True, "output": fout("seven"), "order": ["Start", "Check", "Seven"], "skipped": ["Big", "Small"]}},
       {"name": "else", "input": {"x": 1}, "expect": {"success": True, "output": fout("small"), "order": ["Start", "Check", "Small"], "skipped": ["Big", "Seven"]}}])

# 3. error edge
write("error_edge", "a failing block with an error edge: handled, error path runs, success path deactivated",
      envelope("error edge", [start(),
                              fn("boom", "Boom", "throw new Error('kaput')"),
                              fn("ok", "Never", "return 'not reached'"),
                              fn("handler", "Handler", "return 'handled: ' + <boom.error>")],
               [edge("start", "boom"), edge("boom", "ok"), edge("boom", "handler", "error")]),
      [{"name": "handled", "input": {}, "expect": {"success": True, "output": fout("handled: Line 1: `throw new Error('kaput')` - kaput"),
                                                   "order": ["Start", "Boom", "Handler"], "skipped": ["Never"]}}])

write("error_unhandled", "a failing block without an error edge fails the run; the last final output is kept",
      envelope("unhandled", [start(), fn("boom", "Boom", "throw new Error('kaput')"), fn("next", "Next", "return 1")],
               [edge("start", "boom"), edge("boom", "next")]),
      [{"name": "fails", "input": {}, "expect": {"success": False, "errorCode": "block_error", "error": "kaput",
                                                 "order": ["Start", "Boom"], "skipped": ["Next"]}}])

# 4. join after branches
write("join", "join node waits for every live input; refs to an untaken branch resolve empty",
      envelope("join", [start([("go", "boolean", True)]),
                        fn("a", "A", "return 'a'"),
                        fn("b", "B", "return 'b'"),
                        block("cond", "condition", "Gate", {"conditions": [
                            {"id": "g-if", "title": "if", "value": "<start.go>"}, {"id": "g-else", "title": "else", "value": ""}]}),
                        fn("yes", "Yes", "return 'y'"),
                        fn("no", "No", "return 'n'"),
                        fn("join", "Join", "return [<a.result>, <b.result>, <yes.result>, <no.result>, '<no.result>']")],
               [edge("start", "a"), edge("start", "b"), edge("start", "cond"),
                edge("cond", "yes", "condition-g-if"), edge("cond", "no", "condition-g-else"),
                edge("a", "join"), edge("b", "join"), edge("yes", "join"), edge("no", "join")]),
      [{"name": "yes branch", "input": {"go": True}, "expect": {"success": True, "output": fout(["a", "b", "y", None, "null"]),
                                                             "ran": ["Start", "A", "B", "Gate", "Yes", "Join"], "skipped": ["No"], "runs": {"Join": 1}}},
       {"name": "no branch", "input": {"go": "false"}, "expect": {"success": True, "output": fout(["a", "b", None, "n", '"n"']),
                                                               "ran": ["Start", "A", "B", "Gate", "No", "Join"], "skipped": ["Yes"], "runs": {"Join": 1}}}])

# 5. loops
def loop(bid, name, data):
    return block(bid, "loop", name, {}, data=data)

write("loop_for", "for loop: <loop.index>, <name.results> after the loop, body outputs per iteration",
      envelope("for", [start(), loop("lp", "Repeat", {"loopType": "for", "count": 3}),
                       fn("body", "Body", "return <loop.index> * 10 + <repeat.index>", parent="lp"),
                       fn("after", "After", "return {results: <repeat.results>, last: <body.result>, n: <repeat.totalIterations>}")],
               [edge("start", "lp"), edge("lp", "body", "loop-start-source"), edge("lp", "after", "loop-end-source")]),
      [{"name": "three", "input": {}, "expect": {"success": True,
        "output": fout({"results": [[fout(0)], [fout(11)], [fout(22)]], "last": 22, "n": 3}),
        "order": ["Start", "Body", "Body", "Body", "After"]}}])

# Object collections iterate in the object's own key order, as Sim's Object.entries
# (apps/sim/executor/utils/subflow-utils.server.ts normalizeCollectionValue).
write("loop_foreach", "forEach over an array reference and an object literal: currentItem, items; object key order kept",
      envelope("forEach", [start([("list", "array", ["x", "y"])]),
                           loop("lp", "Each", {"loopType": "forEach", "collection": "<start.list>"}),
                           fn("body", "Body", "return <loop.currentItem> + <loop.index> + ':' + <loop.items>.length", parent="lp"),
                           loop("lp2", "Pairs", {"loopType": "forEach", "collection": {"b": 2, "a": 1}}),
                           fn("body2", "Pair", "return <loop.currentItem>[0] + '=' + <loop.item>[1]", parent="lp2"),
                           fn("after", "After", "return [<each.results>.map(r => r[0].result), <pairs.results>.map(r => r[0].result)]")],
               [edge("start", "lp"), edge("lp", "body", "loop-start-source"), edge("lp", "lp2", "loop-end-source"),
                edge("lp2", "body2", "loop-start-source"), edge("lp2", "after", "loop-end-source")]),
      [{"name": "array and object", "input": {"list": ["p", "q", "r"]},
        "expect": {"success": True, "output": fout([["p0:3", "q1:3", "r2:3"], ["b=2", "a=1"]])}},
       {"name": "empty collection skips", "input": {"list": []},
        "expect": {"success": True, "output": fout([[], ["b=2", "a=1"]]), "skipped": ["Body"]}}])

write("loop_while", "while and doWhile loops with conditions on <loop.index> and a workflow variable",
      envelope("while", [start([("limit", "number", 3)]),
                         loop("w", "While", {"loopType": "while", "whileCondition": "<loop.index> < <start.limit>"}),
                         fn("wb", "WhileBody", "return <loop.index>", parent="w"),
                         loop("d", "DoWhile", {"loopType": "doWhile", "doWhileCondition": "<dobody.result> < 2"}),
                         fn("db", "DoBody", "return <loop.index> + 1", parent="d"),
                         fn("after", "After", "return [<while.totalIterations>, <dowhile.totalIterations>, <whilebody.result>, <dobody.result>]")],
               [edge("start", "w"), edge("w", "wb", "loop-start-source"), edge("w", "d", "loop-end-source"),
                edge("d", "db", "loop-start-source"), edge("d", "after", "loop-end-source")]),
      [{"name": "limit 3", "input": {"limit": 3}, "expect": {"success": True, "output": fout([3, 2, 2, 2])}},
       {"name": "while never entered, doWhile runs once at least", "input": {"limit": 0},
        "expect": {"success": True, "output": fout([0, 2, None, 2]), "skipped": ["WhileBody"]}}])

write("loop_cap", "a while loop that never ends hits the iteration cap (configurable)",
      envelope("cap", [start(), loop("w", "Forever", {"loopType": "while", "whileCondition": "true"}),
                       fn("b", "Spin", "return 1", parent="w")],
               [edge("start", "w"), edge("w", "b", "loop-start-source")]),
      [{"name": "cap 5", "input": {}, "options": {"maxLoopIterations": 5},
        "expect": {"success": False, "errorCode": "block_error", "error": "exceeded the maximum of 5 iterations", "runs": {"Spin": 5}}}])

# 6. parallels
def par(bid, name, data):
    return block(bid, "parallel", name, {}, data=data)

write("parallel_count", "parallel in count mode: <parallel.index>, results ordered by branch",
      envelope("parallel count", [start(), par("p", "Fan", {"parallelType": "count", "count": 4, "batchSize": 2}),
                                  fn("b", "Branch", "return <parallel.index> * <parallel.index>", parent="p"),
                                  fn("after", "After", "return <fan.results>.map(r => r[0].result)")],
               [edge("start", "p"), edge("p", "b", "parallel-start-source"), edge("p", "after", "parallel-end-source")]),
      [{"name": "four", "input": {}, "expect": {"success": True, "output": fout([0, 1, 4, 9]), "runs": {"Branch": 4}}}])

write("parallel_collection", "parallel over a collection: currentItem and items; two blocks per branch",
      envelope("parallel collection", [start([("items", "array", [])]),
                                       par("p", "Each", {"parallelType": "collection", "collection": "<start.items>"}),
                                       fn("b", "Double", "return <parallel.currentItem> * 2", parent="p"),
                                       fn("c", "Describe", "return <double.result> + '/' + <parallel.items>.length", parent="p"),
                                       fn("after", "After", "return <each.results>.map(r => r.map(o => o.result))")],
               [edge("start", "p"), edge("p", "b", "parallel-start-source"), edge("b", "c"), edge("p", "after", "parallel-end-source")]),
      [{"name": "three items", "input": {"items": [1, 2, 3]},
        "expect": {"success": True, "output": fout([[2, "2/3"], [4, "4/3"], [6, "6/3"]])}}])

write("nested_loop_in_parallel", "a loop inside a parallel is cloned per branch",
      envelope("nested", [start(), par("p", "Outer", {"parallelType": "count", "count": 2}),
                          dict(child("lp", "loop", "Inner", "p"), data={"parentId": "p", "extent": "parent", "loopType": "for", "count": 3}),
                          fn("b", "Cell", "return <parallel.index> * 10 + <loop.index>", parent="lp"),
                          fn("after", "After", "return <outer.results>.map(br => br[0].results.map(it => it[0].result))")],
               [edge("start", "p"), edge("p", "lp", "parallel-start-source"), edge("lp", "b", "loop-start-source"),
                edge("p", "after", "parallel-end-source")]),
      [{"name": "2x3", "input": {}, "expect": {"success": True, "output": fout([[0, 1, 2], [10, 11, 12]]), "runs": {"Cell": 6}}}])

# 7. response
write("response", "response block: structured data with types, status, headers; ends the run",
      envelope("response", [start([("name", "string", "Ann"), ("n", "number", 3)]),
                            block("resp", "response", "Response", {
                                "dataMode": "structured",
                                "builderData": [{"id": "r1", "name": "greeting", "type": "string", "value": "Hi <start.name>"},
                                                {"id": "r2", "name": "count", "type": "number", "value": "<start.n>"},
                                                {"id": "r3", "name": "meta", "type": "object", "value": "{\"ok\": true}"}],
                                "status": "201",
                                "headers": [{"id": "h1", "cells": {"Key": "X-Test", "Value": "yes <start.n>"}}]}),
                            fn("after", "After", "return 'too late'")],
               [edge("start", "resp"), edge("resp", "after")]),
      [{"name": "created", "input": {"name": "Zed"},
        "expect": {"success": True, "output": {"data": {"greeting": "Hi Zed", "count": 3, "meta": {"ok": True}}, "status": 201,
                                                "headers": {"X-Test": "yes 3", "Content-Type": "application/json"}},
                   "response": {"status": 201, "headers": {"X-Test": "yes 3", "Content-Type": "application/json"},
                                "data": {"greeting": "Hi Zed", "count": 3, "meta": {"ok": True}}},
                   "order": ["Start", "Response"], "skipped": ["After"]}}])

write("response_json", "response block in json mode; unknown references stay verbatim; objects inline as JSON",
      envelope("response json", [start([("obj", "object", {"k": [1, 2]})]),
                                 block("resp", "response", "Reply", {"dataMode": "json",
                                       "data": "{\"unknown\": \"<nosuch.block>\", \"cmp\": \"a < b > c\", \"obj\": <start.obj>, \"whole\": <start>}"})],
               [edge("start", "resp")]),
      [{"name": "verbatim", "input": {"obj": {"k": [3]}},
        "expect": {"success": True, "output": {"data": {"unknown": "<nosuch.block>", "cmp": "a < b > c", "obj": {"k": [3]},
                                                         "whole": {"obj": {"k": [3]}, "input": {"obj": {"k": [3]}}, "conversationId": None, "files": None}}, "status": 200, "headers": {"Content-Type": "application/json"}}}}])

# 8. variables
variables = [{"id": "v1", "name": "counter", "type": "number", "value": "1"},
             {"id": "v2", "name": "config", "type": "object", "value": "{\"mode\": \"fast\"}"},
             {"id": "v3", "name": "label", "type": "string", "value": "\"quoted\""}]
write("variables", "variables: typed <variable.x>, assignment by the variables block for the rest of the run",
      envelope("variables", [start(),
                              fn("before", "Before", "return [<variable.counter> + 1, <variable.config>.mode, <variable.label>, '<variable.config.mode>']"),
                              block("set", "variables", "Set", {"variables": [
                                  {"id": "a1", "variableId": "v1", "variableName": "counter", "type": "number", "value": "41"}]}),
                              fn("after", "After", "return [<variable.counter> + 1, <before.result>]")],
               [edge("start", "before"), edge("before", "set"), edge("set", "after")], variables),
      [{"name": "assign", "input": {}, "expect": {"success": True, "output": fout([42, [2, "fast", "quoted", '"fast"']]),
                                                  "order": ["Start", "Before", "Set", "After"]}}])

# 9. env refs + redaction
write("env_refs", "{{ENV}} in params and code; env values are redacted from logs; {{…}} that is not an env name stays literal",
      envelope("env", [start(),
                       fn("f", "UseEnv", "return [{{GREETING}}.length, '{{GREETING}}', environmentVariables.TOKEN === '{{TOKEN}}']"),
                       block("resp", "response", "Response", {"dataMode": "json",
                             "data": "{\"auth\": \"Bearer {{TOKEN}}\", \"mustache\": \"{{ user.name }}\", \"fn\": <useenv.result>}"})],
               [edge("start", "f"), edge("f", "resp")]),
      [{"name": "env", "input": {}, "env": {"GREETING": "hello", "TOKEN": "s3cret-token-value"},
        "expect": {"success": True, "output": {"data": {"auth": "Bearer s3cret-token-value", "mustache": "{{ user.name }}", "fn": [5, "hello", True]},
                                               "status": 200, "headers": {"Content-Type": "application/json"}},
                   "logsMustNotContain": ["s3cret-token-value"]}}])

# 10. missing field
write("missing_field", "a reference to a field that does not exist on a block that ran fails the block",
      envelope("missing", [start([("name", "string", "x")]), fn("f", "Use", "return <start.nosuch>")], [edge("start", "f")]),
      [{"name": "error", "input": {}, "expect": {"success": False, "errorCode": "block_error",
        "error": "\"nosuch\" doesn't exist on block \"Start\". Available fields: conversationId, files, input, name"}}])

# 11. sandbox limits
write("function_limits", "function sandbox: timeout and memory cap fail the block; python is refused",
      envelope("limits", [start([("mode", "string", "")]),
                          block("cond", "condition", "Mode", {"conditions": [
                              {"id": "m-spin", "title": "if", "value": "<start.mode> === 'spin'"},
                              {"id": "m-mem", "title": "else if", "value": "<start.mode> === 'mem'"},
                              {"id": "m-else", "title": "else", "value": ""}]}),
                          fn("spin", "Spin", "while (true) {}", timeout=300),
                          fn("mem", "Hog", "const a = []; let s = 'x'.repeat(1024); while (true) { s = s + s; a.push(s); }", timeout=20000),
                          fn("py", "Python", "print(1)", language="python")],
               [edge("start", "cond"), edge("cond", "spin", "condition-m-spin"), edge("cond", "mem", "condition-m-mem"),
                edge("cond", "py", "condition-m-else")]),
      [{"name": "timeout", "input": {"mode": "spin"}, "expect": {"success": False, "error": "timed out", "errorCode": "block_error"}},
       {"name": "memory", "input": {"mode": "mem"}, "options": {"sandbox": "pool"},
        "expect": {"success": False, "error": "memory limit exceeded", "errorCode": "block_error"}},
       {"name": "python", "input": {}, "expect": {"success": False, "error": "not supported"}}])

# 12. api + SSRF
write("api_ssrf", "api block: params/headers tables and JSON body; loopback refused unless allowed",
      envelope("api", [start([("q", "string", "hi")]),
                       block("api", "api", "Call", {"url": "{{TEST_SERVER}}/echo", "method": "POST",
                             "params": [{"id": "p1", "cells": {"Key": "q", "Value": "<start.q>"}}],
                             "headers": [{"id": "h1", "cells": {"Key": "X-Hello", "Value": "world"}}],
                             "body": "{\"n\": 1}"}),
                       fn("after", "After", "return [<call.status>, <call.data.query>, <call.data.header>, <call.data.body>]")],
               [edge("start", "api"), edge("api", "after")]),
      [{"name": "refused", "input": {}, "expect": {"success": False, "error": "not allowed", "skipped": ["After"]}},
       {"name": "allowed", "input": {"q": "a b"}, "options": {"allowLoopback": True},
        "expect": {"success": True, "output": fout([200, "a b", "world", {"n": 1}])}}])

# 13. run timeout / cancellation
write("run_timeout", "the per-run timeout stops a waiting block promptly",
      envelope("timeout", [start(), block("w", "wait", "Wait", {"timeValue": "30", "timeUnit": "seconds"}), fn("f", "After", "return 1")],
               [edge("start", "w"), edge("w", "f")]),
      [{"name": "timeout", "input": {}, "options": {"timeoutMs": 100},
        "expect": {"success": False, "errorCode": "timeout", "skipped": ["After"], "maxDurationMs": 3000}}])

# 14. an env var the run does not have fails the block that references it, by name
write("env_missing", "a {{NAME}} the run does not have fails that block naming it (no literal pass-through)",
      envelope("env missing", [start(), fn("ok", "Fine", "return 1"),
                               block("api", "api", "Call", {"url": "https://example.com/{{NOPE_URL}}", "method": "GET"}),
                               fn("code", "Code", "return '{{NOPE_CODE}}'"), fn("after", "After", "return 2")],
               [edge("start", "ok"), edge("ok", "api"), edge("api", "after"), edge("start", "code")]),
      [{"name": "param", "input": {}, "env": {},
        "expect": {"success": False, "errorCode": "block_error", "error": "environment variable \"NOPE_", "ran": ["Fine"], "skipped": ["After"]}}])

print("ok")
