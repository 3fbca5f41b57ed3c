// Rewriting PromQL text: `${name}` placeholders, and a selector added to every infrazen_ series.
{
  // `expr` with each `${name}` of `values` replaced by its value.
  substitute(expr, values)::
    std.foldl(function(text, name) std.strReplace(text, '${' + name + '}', std.toString(values[name])), std.objectFields(values), expr),

  // `expr` with `selector` added to every infrazen_ metric: `infrazen_x` becomes
  // `infrazen_x{selector}`, `infrazen_x{a="b"}` becomes `infrazen_x{selector,a="b"}`. Recording
  // rule names (with a colon) and names inside longer words are left alone.
  withSelector(expr, selector)::
    local n = std.length(expr);
    local nameChar(c) =
      local code = std.codepoint(c);
      (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 58) || code == 95;
    local nameEnd(i) = if i < n && nameChar(expr[i]) then nameEnd(i + 1) tailstrict else i;
    local starts = [i for i in std.findSubstr('infrazen_', expr) if i == 0 || !nameChar(expr[i - 1])];
    local step(acc, i) =
      local end = nameEnd(i);
      local name = std.substr(expr, i, end - i);
      local opens = end < n && expr[end] == '{';
      local replaced =
        if std.length(std.findSubstr(':', name)) > 0 then { text: name, next: end }
        else if opens && end + 1 < n && expr[end + 1] == '}' then { text: name + '{' + selector + '}', next: end + 2 }
        else if opens then { text: name + '{' + selector + ',', next: end + 1 }
        else { text: name + '{' + selector + '}', next: end };
      { parts: acc.parts + [std.substr(expr, acc.next, i - acc.next), replaced.text], next: replaced.next };
    local done = std.foldl(step, starts, { parts: [], next: 0 });
    if selector == '' then expr else std.join('', done.parts + [std.substr(expr, done.next, n - done.next)]),
}
