using System.Globalization;

namespace Veritee.Policy;

/// <summary>The outcome of parsing: a document when there is no error, and every diagnostic (errors and warnings).</summary>
public sealed class PolicyParseResult
{
    internal PolicyParseResult(PolicyDocument? document, IReadOnlyList<PolicyDiagnostic> diagnostics)
    {
        Document = diagnostics.Any(d => d.IsError) ? null : document;
        Diagnostics = diagnostics;
    }

    /// <summary>The document, or null when any error was found.</summary>
    public PolicyDocument? Document { get; }

    /// <summary>All diagnostics in source order.</summary>
    public IReadOnlyList<PolicyDiagnostic> Diagnostics { get; }

    /// <summary>True when there is no error (warnings allowed).</summary>
    public bool Success => Document is not null;

    /// <summary>The errors only.</summary>
    public IEnumerable<PolicyDiagnostic> Errors => Diagnostics.Where(d => d.IsError);
}

/// <summary>The outcome of parsing a bare list of rules (a fragment without <c>version=</c> or sections).</summary>
public sealed class PolicyRulesParseResult
{
    internal PolicyRulesParseResult(IReadOnlyList<PolicyRule> rules, IReadOnlyList<PolicyDiagnostic> diagnostics)
    {
        Rules = rules;
        Diagnostics = diagnostics;
    }

    /// <summary>The rules that parsed (rules with errors are left out).</summary>
    public IReadOnlyList<PolicyRule> Rules { get; }

    /// <summary>All diagnostics in source order.</summary>
    public IReadOnlyList<PolicyDiagnostic> Diagnostics { get; }

    /// <summary>True when there is no error.</summary>
    public bool Success => !Diagnostics.Any(d => d.IsError);

    /// <summary>The errors only.</summary>
    public IEnumerable<PolicyDiagnostic> Errors => Diagnostics.Where(d => d.IsError);
}

/// <summary>
/// Parses MAA policy text (versions 1.0, 1.1, 1.2). Never throws on any input: every problem is a
/// <see cref="PolicyDiagnostic"/>. After a syntax error inside a rule the parser skips to the next <c>;</c> and goes on,
/// so one run reports several independent mistakes.
/// </summary>
/// <remarks>
/// Language decisions where MAA's documentation is silent or inconsistent:
/// <list type="bullet">
/// <item>Keywords (<c>version</c>, section names, actions, <c>type</c>/<c>value</c>/<c>issuer</c>/<c>valueType</c>,
/// <c>claim</c>, <c>true</c>/<c>false</c>) and function names are case-insensitive (a published sample writes
/// <c>Issuancerules</c>); labels are case-sensitive.</item>
/// <item>A lone <c>=</c> inside a condition is read as <c>==</c>, with a warning (several published samples write it).</item>
/// <item>Sections must appear in the order configurationrules, authorizationrules, issuancerules, each at most once;
/// <c>authorizationrules</c> is required; each section ends with <c>};</c>.</item>
/// <item>Integers are 64-bit signed decimal literals with an optional leading <c>-</c>; hexadecimal is an error.</item>
/// <item>Strings use JSON escapes (<c>\" \\ \/ \n \r \t \b \f \uXXXX</c>) and cannot span lines.</item>
/// <item>Comments are <c>//</c> to end of line, in every version.</item>
/// <item>A feature used under a version that lacks it is an error: <c>configurationrules</c> needs 1.1; functions and
/// <c>!</c> need 1.2.</item>
/// <item>Ordering operators (<c>&lt; &lt;= &gt; &gt;=</c>) apply to <c>value</c> only, and a literal operand must be an
/// Integer; <c>type</c> and <c>issuer</c> compare with Strings; <c>valueType</c> with one of "String", "Integer",
/// "Boolean".</item>
/// <item>A label may be used only after the condition that binds it (conditions are evaluated left to right); a label is
/// bound once per rule; a negated condition cannot be labelled (it matches no claim).</item>
/// <item><c>permit()</c>/<c>deny()</c> are allowed in authorizationrules only; configurationrules allows
/// <c>issueproperty</c> and <c>add</c>; authorizationrules allows <c>add</c>, <c>issue</c> (a published TPM sample
/// uses it) and <c>issueproperty</c>; issuancerules allows <c>add</c>, <c>issue</c>, <c>issueproperty</c>.</item>
/// </list>
/// </remarks>
public static class PolicyParser
{
    /// <summary>Most errors reported for one text; beyond this the rest is noise.</summary>
    public const int MaxErrors = 50;

    /// <summary>Deepest allowed nesting of function calls (keeps the parser's stack bounded on hostile input).</summary>
    public const int MaxExpressionDepth = 32;

    /// <summary>Parses a whole policy.</summary>
    /// <param name="text">The policy text.</param>
    /// <returns>The document and diagnostics.</returns>
    public static PolicyParseResult Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new Parser(text);
        var document = parser.ParseDocument();
        return new PolicyParseResult(document, parser.SortedDiagnostics());
    }

    /// <summary>Parses a bare sequence of rules, e.g. a fragment quoted in documentation.</summary>
    /// <param name="text">Rules, each ending with <c>;</c>.</param>
    /// <param name="section">Which section the rules are checked as belonging to.</param>
    /// <param name="version">Which version's features are allowed.</param>
    /// <returns>The rules and diagnostics.</returns>
    public static PolicyRulesParseResult ParseRules(string text, SectionKind section = SectionKind.Issuance, PolicyVersion version = PolicyVersion.V1_2)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new Parser(text);
        var rules = parser.ParseFragment(section, version);
        return new PolicyRulesParseResult(rules, parser.SortedDiagnostics());
    }

    internal static string VersionText(PolicyVersion version) => version switch
    {
        PolicyVersion.V1_0 => "1.0",
        PolicyVersion.V1_1 => "1.1",
        _ => "1.2",
    };

    internal static string SectionKeyword(SectionKind kind) => kind switch
    {
        SectionKind.Configuration => "configurationrules",
        SectionKind.Authorization => "authorizationrules",
        _ => "issuancerules",
    };

    internal static string PropertyKeyword(ClaimProperty property) => property switch
    {
        ClaimProperty.Type => "type",
        ClaimProperty.Value => "value",
        ClaimProperty.Issuer => "issuer",
        _ => "valueType",
    };

    internal static string FunctionName(PolicyFunction function) => function.ToString();

    internal static int FunctionArity(PolicyFunction function) => function switch
    {
        PolicyFunction.JsonToClaimValue or PolicyFunction.NegateBool => 1,
        _ => 2,
    };

    private sealed class SyntaxError : Exception
    {
    }

    private sealed class Parser
    {
        private static readonly string[] SectionKeywords = ["configurationrules", "authorizationrules", "issuancerules"];

        private readonly List<PolicyDiagnostic> _diagnostics = [];
        private readonly List<Token> _tokens;
        private readonly Stack<string> _rulePath = new();
        private readonly Dictionary<string, SourceSpan> _labels = new(StringComparer.Ordinal);
        private int _index;
        private int _errorCount;
        private PolicyVersion _version = PolicyVersion.V1_2;
        private SectionKind _section;
        private string _versionText = "1.2";

        public Parser(string text)
        {
            _tokens = Lexer.Tokenize(text, _diagnostics);
            _errorCount = _diagnostics.Count;
        }

        private Token Current => _tokens[_index];

        private Token Peek(int ahead = 1) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];

        public List<PolicyDiagnostic> SortedDiagnostics()
        {
            // Stable order: by position, lexer findings before parser findings at the same place.
            var sorted = _diagnostics.Select((d, i) => (d, i)).OrderBy(x => x.d.Span.Offset).ThenBy(x => x.i).Select(x => x.d).ToList();
            var errors = 0;
            return sorted.Where(d => !d.IsError || ++errors <= MaxErrors).ToList();
        }

        public PolicyDocument? ParseDocument()
        {
            _rulePath.Push("policy");
            var versionOk = ParseVersion();
            RuleSection? configuration = null, authorization = null, issuance = null;
            var seen = -1;
            while (Current.Kind != TokenKind.EndOfInput && !TooManyErrors)
            {
                var kind = SectionKeywordAt(Current);
                if (kind is null || (int)kind <= seen)
                {
                    var allowed = SectionKeywords.Skip(seen + 1).Select(k => "'" + k + "'").ToList();
                    allowed.Add("<EOF>");
                    var message = kind is null
                        ? $"mismatched input '{Current.Text}' expecting {JoinAlternatives(allowed)}"
                        : $"section '{Current.Text}' is out of place: sections come in the order configurationrules, authorizationrules, issuancerules, each at most once";
                    Error(Current, message, JoinAlternatives(allowed));
                    break;
                }

                seen = (int)kind;
                try
                {
                    var section = ParseSection(kind.Value);
                    switch (kind.Value)
                    {
                        case SectionKind.Configuration: configuration = section; break;
                        case SectionKind.Authorization: authorization = section; break;
                        default: issuance = section; break;
                    }
                }
                catch (SyntaxError)
                {
                    break;
                }
            }

            if (authorization is null && !_diagnostics.Any(d => d.IsError))
            {
                Error(Current, "missing 'authorizationrules' section: every policy needs one", "'authorizationrules'");
            }

            return versionOk && authorization is not null ? new PolicyDocument(_version, configuration, authorization, issuance) : null;
        }

        public List<PolicyRule> ParseFragment(SectionKind section, PolicyVersion version)
        {
            _version = version;
            _versionText = VersionText(version);
            _section = section;
            _rulePath.Push("rules");
            return ParseRuleList(insideSection: false);
        }

        private bool TooManyErrors => _errorCount >= MaxErrors;

        private bool ParseVersion()
        {
            _rulePath.Push("versionInfo");
            try
            {
                ExpectKeyword("version");
                Expect(TokenKind.Equals, "'='");
                var token = Current;
                if (token.Kind != TokenKind.Decimal)
                {
                    Fail(token, "a version number such as 1.0, 1.1 or 1.2");
                }

                switch (token.Text)
                {
                    case "1.0": _version = PolicyVersion.V1_0; break;
                    case "1.1": _version = PolicyVersion.V1_1; break;
                    case "1.2": _version = PolicyVersion.V1_2; break;
                    default:
                        Error(token, $"unsupported policy version '{token.Text}': expecting 1.0, 1.1 or 1.2", "1.0, 1.1 or 1.2");
                        break;
                }

                _versionText = token.Text;
                _index++;
                Expect(TokenKind.Semicolon, "';'");
                return true;
            }
            catch (SyntaxError)
            {
                SkipPast(TokenKind.Semicolon);
                return false;
            }
            finally
            {
                _rulePath.Pop();
            }
        }

        private RuleSection ParseSection(SectionKind kind)
        {
            var keyword = Current;
            _section = kind;
            _rulePath.Push(SectionKeyword(kind));
            try
            {
                if (kind == SectionKind.Configuration && _version == PolicyVersion.V1_0)
                {
                    Error(keyword, $"'configurationrules' requires version=1.1 or later; this policy declares version={_versionText}", "version=1.1");
                }

                _index++;
                Expect(TokenKind.LeftBrace, "'{'");
                var rules = ParseRuleList(insideSection: true);
                Expect(TokenKind.RightBrace, "'}'");
                if (Current.Kind == TokenKind.Semicolon)
                {
                    _index++;
                }
                else
                {
                    Error(Current, $"mismatched input '{Current.Text}' expecting ';'", "';'");
                }

                return new RuleSection(kind, rules, keyword.Span);
            }
            finally
            {
                _rulePath.Pop();
            }
        }

        private List<PolicyRule> ParseRuleList(bool insideSection)
        {
            var rules = new List<PolicyRule>();
            while (Current.Kind != TokenKind.EndOfInput && !TooManyErrors)
            {
                if (insideSection && (Current.Kind == TokenKind.RightBrace || AtSectionStart()))
                {
                    break;
                }

                var start = _index;
                try
                {
                    rules.Add(ParseRule());
                }
                catch (SyntaxError)
                {
                    Recover(insideSection);
                    if (_index == start)
                    {
                        _index++; // always make progress
                    }
                }
            }

            return rules;
        }

        private bool AtSectionStart() => SectionKeywordAt(Current) is not null && Peek().Kind == TokenKind.LeftBrace;

        private void Recover(bool insideSection)
        {
            while (Current.Kind != TokenKind.EndOfInput)
            {
                if (Current.Kind == TokenKind.Semicolon)
                {
                    _index++;
                    return;
                }

                if (insideSection && (Current.Kind == TokenKind.RightBrace || AtSectionStart()))
                {
                    return;
                }

                _index++;
            }
        }

        private PolicyRule ParseRule()
        {
            _rulePath.Push("rule");
            _labels.Clear();
            try
            {
                var first = Current;
                var conditions = new List<PolicyCondition>();
                if (Current.Kind != TokenKind.Arrow)
                {
                    conditions.Add(ParseCondition());
                    while (Current.Kind == TokenKind.AndAnd)
                    {
                        _index++;
                        conditions.Add(ParseCondition());
                    }
                }

                Expect(TokenKind.Arrow, conditions.Count == 0 ? "'=>' or a condition" : "'&&' or '=>'");
                var action = ParseAction();
                Expect(TokenKind.Semicolon, "';'");
                return new PolicyRule(conditions, action, first.Span);
            }
            finally
            {
                _rulePath.Pop();
            }
        }

        private PolicyCondition ParseCondition()
        {
            _rulePath.Push("condition");
            try
            {
                var first = Current;
                var negated = false;
                if (Current.Kind == TokenKind.Bang)
                {
                    negated = true;
                    RequireVersion(Current, "'!' (negated condition)");
                    _index++;
                }

                string? label = null;
                var labelToken = Current;
                if (Current.Kind == TokenKind.Identifier && Peek().Kind == TokenKind.Colon)
                {
                    label = Current.Text;
                    _index += 2;
                }

                if (Current.Kind != TokenKind.LeftBracket)
                {
                    Fail(Current, label is null && Current.Kind == TokenKind.Identifier ? "':' after a label, or '['" : "'['");
                }

                _index++;
                var predicates = new List<PolicyPredicate>();
                if (Current.Kind != TokenKind.RightBracket)
                {
                    predicates.Add(ParsePredicate());
                    while (Current.Kind == TokenKind.Comma)
                    {
                        _index++;
                        predicates.Add(ParsePredicate());
                    }
                }

                Expect(TokenKind.RightBracket, "',' or ']'");

                // Bound after the predicates: a condition cannot refer to its own label.
                if (label is not null)
                {
                    if (negated)
                    {
                        Error(labelToken, $"a negated condition cannot have a label ('{label}'): it holds only when no claim matches, so there is nothing to bind", null);
                    }
                    else if (_labels.ContainsKey(label))
                    {
                        Error(labelToken, $"label '{label}' is already bound in this rule", "a new label");
                    }
                    else
                    {
                        _labels[label] = labelToken.Span;
                    }
                }

                return new PolicyCondition(negated, label, predicates, first.Span);
            }
            finally
            {
                _rulePath.Pop();
            }
        }

        private PolicyPredicate ParsePredicate()
        {
            _rulePath.Push("predicate");
            try
            {
                var propertyToken = Current;
                var property = PropertyAt(propertyToken) ?? Fail<ClaimProperty>(propertyToken, "'type', 'value', 'issuer' or 'valueType'");
                _index++;
                var opToken = Current;
                ComparisonOperator op;
                switch (opToken.Kind)
                {
                    case TokenKind.EqualsEquals: op = ComparisonOperator.Equal; break;
                    case TokenKind.NotEquals: op = ComparisonOperator.NotEqual; break;
                    case TokenKind.Less: op = ComparisonOperator.Less; break;
                    case TokenKind.LessEquals: op = ComparisonOperator.LessOrEqual; break;
                    case TokenKind.Greater: op = ComparisonOperator.Greater; break;
                    case TokenKind.GreaterEquals: op = ComparisonOperator.GreaterOrEqual; break;
                    case TokenKind.Equals:
                        op = ComparisonOperator.Equal;
                        Warning(opToken, "'=' in a condition is read as '=='; write '==' to compare", "'=='");
                        break;
                    default:
                        return Fail<PolicyPredicate>(opToken, "a comparison operator ('==', '!=', '<', '<=', '>', '>=')");
                }

                _index++;
                var operandToken = Current;
                var operand = ParseExpression(0);
                CheckPredicate(property, op, opToken, operand, operandToken);
                return new PolicyPredicate(property, op, operand, propertyToken.Span);
            }
            finally
            {
                _rulePath.Pop();
            }
        }

        private void CheckPredicate(ClaimProperty property, ComparisonOperator op, Token opToken, PolicyExpression operand, Token operandToken)
        {
            var keyword = PropertyKeyword(property);
            var literal = (operand as LiteralExpression)?.Value;
            if (op is not (ComparisonOperator.Equal or ComparisonOperator.NotEqual))
            {
                if (property != ClaimProperty.Value)
                {
                    Error(opToken, $"operator '{opToken.Text}' compares Integers and cannot be applied to '{keyword}' (a String); use '==' or '!='", "'==' or '!='");
                }
                else if (literal is { Kind: not ClaimValueKind.Integer } v)
                {
                    Error(operandToken, $"operator '{opToken.Text}' needs an Integer operand, got {ClaimValue.KindName(v.Kind)} {operandToken.Text}", "an integer");
                }
            }

            if (property is ClaimProperty.Type or ClaimProperty.Issuer or ClaimProperty.ValueType && literal is { Kind: not ClaimValueKind.String } nonString)
            {
                Error(operandToken, $"'{keyword}' is a String and cannot be compared with {ClaimValue.KindName(nonString.Kind)} {operandToken.Text}", "a string");
            }
            else if (property == ClaimProperty.ValueType && literal is { } typeName && typeName.AsString is not ("String" or "Integer" or "Boolean"))
            {
                Error(operandToken, $"unknown value type {operandToken.Text}: expecting \"String\", \"Integer\" or \"Boolean\"", "\"String\", \"Integer\" or \"Boolean\"");
            }
            else if (property == ClaimProperty.Issuer && literal is { } issuer && !ClaimIssuers.IsKnown(issuer.AsString))
            {
                Warning(operandToken, $"unknown issuer {operandToken.Text}: known issuers are \"AttestationService\", \"AttestationPolicy\" and \"CustomClaim\"; this condition can only match claims with that exact issuer", null);
            }
        }

        private PolicyExpression ParseExpression(int depth)
        {
            var token = Current;
            if (depth >= MaxExpressionDepth)
            {
                Error(token, $"expression nested more than {MaxExpressionDepth} deep", null);
                throw new SyntaxError();
            }

            switch (token.Kind)
            {
                case TokenKind.String:
                    _index++;
                    return new LiteralExpression(ClaimValue.FromString(token.StringValue!), token.Span);
                case TokenKind.Integer:
                    _index++;
                    return new LiteralExpression(ClaimValue.FromInteger(token.IntegerValue), token.Span);
                case TokenKind.Identifier:
                    break;
                default:
                    return Fail<PolicyExpression>(token, "a string, an integer, true, false, label.property or a function call");
            }

            var next = Peek();
            if (next.Kind == TokenKind.Dot)
            {
                _index += 2;
                var propertyToken = Current;
                var property = PropertyAt(propertyToken) ?? Fail<ClaimProperty>(propertyToken, "'type', 'value', 'issuer' or 'valueType'");
                _index++;
                if (!_labels.ContainsKey(token.Text))
                {
                    Error(token, $"label '{token.Text}' is not bound by an earlier condition of this rule", "a label bound by an earlier condition");
                }

                return new PropertyAccessExpression(token.Text, property, token.Span);
            }

            if (next.Kind == TokenKind.LeftParen)
            {
                return ParseFunctionCall(depth);
            }

            if (IsKeyword(token, "true") || IsKeyword(token, "false"))
            {
                _index++;
                return new LiteralExpression(ClaimValue.FromBoolean(IsKeyword(token, "true")), token.Span);
            }

            return Fail<PolicyExpression>(next, $"'.' after label '{token.Text}' (as in {token.Text}.value)");
        }

        private FunctionCallExpression ParseFunctionCall(int depth)
        {
            var nameToken = Current;
            _rulePath.Push("functionCall");
            try
            {
                if (!Enum.TryParse<PolicyFunction>(nameToken.Text, ignoreCase: true, out var function) || !Enum.IsDefined(function))
                {
                    var suggestion = Suggest(nameToken.Text, Enum.GetNames<PolicyFunction>());
                    Error(nameToken, $"unknown function '{nameToken.Text}'{(suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?")}", string.Join(", ", Enum.GetNames<PolicyFunction>()));
                    throw new SyntaxError();
                }

                RequireVersion(nameToken, $"function '{FunctionName(function)}'");
                _index += 2;
                var args = new List<PolicyExpression>();
                var argTokens = new List<Token>();
                if (Current.Kind != TokenKind.RightParen)
                {
                    argTokens.Add(Current);
                    args.Add(ParseExpression(depth + 1));
                    while (Current.Kind == TokenKind.Comma)
                    {
                        _index++;
                        argTokens.Add(Current);
                        args.Add(ParseExpression(depth + 1));
                    }
                }

                var close = Current;
                Expect(TokenKind.RightParen, "',' or ')'");
                var arity = FunctionArity(function);
                if (args.Count != arity)
                {
                    Error(args.Count > arity ? argTokens[arity] : close, $"function '{FunctionName(function)}' takes {arity} argument{(arity == 1 ? string.Empty : "s")}, got {args.Count}", $"{arity} argument{(arity == 1 ? string.Empty : "s")}");
                }
                else
                {
                    CheckArguments(function, args, argTokens);
                }

                return new FunctionCallExpression(function, args, nameToken.Span);
            }
            finally
            {
                _rulePath.Pop();
            }
        }

        private void CheckArguments(PolicyFunction function, List<PolicyExpression> args, List<Token> argTokens)
        {
            for (var i = 0; i < args.Count; i++)
            {
                if (args[i] is not LiteralExpression { Value: var value })
                {
                    continue;
                }

                ClaimValueKind? required = function switch
                {
                    PolicyFunction.JmesPath or PolicyFunction.JsonToClaimValue or PolicyFunction.AppendString => ClaimValueKind.String,
                    PolicyFunction.NegateBool => ClaimValueKind.Boolean,
                    _ => null,
                };
                if (required is { } kind && value.Kind != kind)
                {
                    Error(argTokens[i], $"argument {i + 1} of '{FunctionName(function)}' must be a {ClaimValue.KindName(kind)}, got {ClaimValue.KindName(value.Kind)} {argTokens[i].Text}", $"a {ClaimValue.KindName(kind)}");
                    continue;
                }

                if (function == PolicyFunction.JmesPath && value.Kind == ClaimValueKind.String)
                {
                    var problem = i == 0 ? PolicyFunctions.CheckJson(value.AsString) : PolicyFunctions.CheckJmesPathQuery(value.AsString);
                    if (problem is not null)
                    {
                        Error(argTokens[i], $"argument {i + 1} of 'JmesPath' is not {(i == 0 ? "valid JSON" : "a valid JMESPath query")}: {problem}", i == 0 ? "JSON text" : "a JMESPath query");
                    }
                }
                else if (function == PolicyFunction.JsonToClaimValue && value.Kind == ClaimValueKind.String && PolicyFunctions.CheckJson(value.AsString) is { } jsonProblem)
                {
                    Error(argTokens[i], $"argument of 'JsonToClaimValue' is not valid JSON: {jsonProblem}", "JSON text");
                }
            }
        }

        private PolicyAction ParseAction()
        {
            _rulePath.Push("action");
            try
            {
                var keyword = Current;
                var name = keyword.Kind == TokenKind.Identifier ? keyword.Text.ToLowerInvariant() : string.Empty;
                switch (name)
                {
                    case "permit":
                    case "deny":
                        _index++;
                        Expect(TokenKind.LeftParen, "'('");
                        Expect(TokenKind.RightParen, $"')': {name}() takes no argument");
                        if (_section != SectionKind.Authorization)
                        {
                            Error(keyword, $"{name}() is only allowed in authorizationrules, not in {SectionKeyword(_section)}", null);
                        }

                        return name == "permit" ? new PermitAction(keyword.Span) : new DenyAction(keyword.Span);
                    case "add":
                    case "issue":
                    case "issueproperty":
                        var kind = name switch { "add" => ClaimActionKind.Add, "issue" => ClaimActionKind.Issue, _ => ClaimActionKind.IssueProperty };
                        if (_section == SectionKind.Configuration && kind == ClaimActionKind.Issue)
                        {
                            Error(keyword, "issue() is not allowed in configurationrules (use issueproperty to set a property)", "'issueproperty' or 'add'");
                        }

                        _index++;
                        Expect(TokenKind.LeftParen, "'('");
                        var spec = ParseClaimSpec();
                        Expect(TokenKind.RightParen, "',' or ')'");
                        return new ClaimAction(kind, spec, keyword.Span);
                    default:
                        return Fail<PolicyAction>(keyword, "'permit', 'deny', 'add', 'issue' or 'issueproperty'");
                }
            }
            finally
            {
                _rulePath.Pop();
            }
        }

        private ClaimSpec ParseClaimSpec()
        {
            _rulePath.Push("claim");
            try
            {
                var first = Current;
                if (IsKeyword(first, "claim") && Peek().Kind == TokenKind.Equals)
                {
                    _index += 2;
                    var labelToken = Current;
                    if (labelToken.Kind != TokenKind.Identifier)
                    {
                        Fail(labelToken, "a label");
                    }

                    _index++;
                    if (!_labels.ContainsKey(labelToken.Text))
                    {
                        Error(labelToken, $"label '{labelToken.Text}' is not bound by a condition of this rule", "a label bound by a condition");
                    }

                    return new ClaimReferenceSpec(labelToken.Text, first.Span);
                }

                PolicyExpression? type = null, value = null;
                ClaimValueKind? valueType = null;
                var seenValueType = false;
                while (true)
                {
                    var nameToken = Current;
                    var property = PropertyAt(nameToken);
                    if (property is null or ClaimProperty.Issuer)
                    {
                        Fail(nameToken, property is null ? "'type', 'value' or 'valueType'" : "'type', 'value' or 'valueType' (a policy cannot choose the issuer; it is always AttestationPolicy)");
                    }

                    _index++;
                    if (Current.Kind != TokenKind.Equals)
                    {
                        Fail(Current, "'='");
                    }

                    _index++;
                    var exprToken = Current;
                    var expr = ParseExpression(0);
                    var duplicate = property switch
                    {
                        ClaimProperty.Type => type is not null,
                        ClaimProperty.Value => value is not null,
                        _ => seenValueType,
                    };
                    if (duplicate)
                    {
                        Error(nameToken, $"'{nameToken.Text}' is given twice", null);
                    }

                    switch (property)
                    {
                        case ClaimProperty.Type:
                            type = expr;
                            if (expr is LiteralExpression { Value.Kind: not ClaimValueKind.String })
                            {
                                Error(exprToken, $"the claim type must be a String, got {exprToken.Text}", "a string");
                            }

                            break;
                        case ClaimProperty.Value:
                            value = expr;
                            break;
                        default:
                            seenValueType = true;
                            if (expr is LiteralExpression { Value: { Kind: ClaimValueKind.String } name } && name.AsString is "String" or "Integer" or "Boolean")
                            {
                                valueType = Enum.Parse<ClaimValueKind>(name.AsString);
                            }
                            else
                            {
                                Error(exprToken, $"valueType must be \"String\", \"Integer\" or \"Boolean\", got {exprToken.Text}", "\"String\", \"Integer\" or \"Boolean\"");
                            }

                            break;
                    }

                    if (Current.Kind != TokenKind.Comma)
                    {
                        break;
                    }

                    _index++;
                }

                if (type is null || value is null)
                {
                    Error(Current, $"missing '{(type is null ? "type" : "value")}=' argument", type is null ? "'type='" : "'value='");
                    throw new SyntaxError();
                }

                return new NewClaimSpec(type, value, valueType, first.Span);
            }
            finally
            {
                _rulePath.Pop();
            }
        }

        private void RequireVersion(Token token, string feature)
        {
            if (_version != PolicyVersion.V1_2)
            {
                Error(token, $"{feature} requires version=1.2; this policy declares version={_versionText}", "version=1.2");
            }
        }

        private static SectionKind? SectionKeywordAt(Token token)
        {
            if (token.Kind != TokenKind.Identifier)
            {
                return null;
            }

            for (var i = 0; i < SectionKeywords.Length; i++)
            {
                if (string.Equals(token.Text, SectionKeywords[i], StringComparison.OrdinalIgnoreCase))
                {
                    return (SectionKind)i;
                }
            }

            return null;
        }

        private static ClaimProperty? PropertyAt(Token token)
        {
            if (token.Kind != TokenKind.Identifier)
            {
                return null;
            }

            return token.Text.ToLowerInvariant() switch
            {
                "type" => ClaimProperty.Type,
                "value" => ClaimProperty.Value,
                "issuer" => ClaimProperty.Issuer,
                "valuetype" => ClaimProperty.ValueType,
                _ => null,
            };
        }

        private static bool IsKeyword(Token token, string keyword) =>
            token.Kind == TokenKind.Identifier && string.Equals(token.Text, keyword, StringComparison.OrdinalIgnoreCase);

        private void ExpectKeyword(string keyword)
        {
            if (!IsKeyword(Current, keyword))
            {
                Fail(Current, "'" + keyword + "'");
            }

            _index++;
        }

        private void Expect(TokenKind kind, string expected)
        {
            if (Current.Kind != kind)
            {
                Fail(Current, expected);
            }

            _index++;
        }

        private void SkipPast(TokenKind kind)
        {
            while (Current.Kind != TokenKind.EndOfInput && Current.Kind != kind)
            {
                _index++;
            }

            if (Current.Kind == kind)
            {
                _index++;
            }
        }

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private void Fail(Token token, string expected)
        {
            // The lexer has already reported an invalid token; one message per mistake is enough.
            if (token.Kind != TokenKind.Invalid)
            {
                var text = token.Kind == TokenKind.EndOfInput ? "<EOF>" : Lexer.Printable(token.Text);
                Error(token, $"mismatched input '{text}' expecting {expected}", expected);
            }

            throw new SyntaxError();
        }

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private T Fail<T>(Token token, string expected)
        {
            Fail(token, expected);
            return default;
        }

        private void Error(Token token, string message, string? expected)
        {
            _errorCount++;
            _diagnostics.Add(new PolicyDiagnostic(DiagnosticSeverity.Error, PolicyDiagnostic.ParsingError, message, token.Span, Symbol(token), expected, RulePath()));
        }

        private void Warning(Token token, string message, string? expected) =>
            _diagnostics.Add(new PolicyDiagnostic(DiagnosticSeverity.Warning, PolicyDiagnostic.PolicyWarning, message, token.Span, Symbol(token), expected, RulePath()));

        private static string Symbol(Token token) => token.Kind == TokenKind.EndOfInput ? "<EOF>" : Lexer.Printable(token.Text);

        private string RulePath() => string.Join(" > ", _rulePath.Reverse());

        private static string JoinAlternatives(List<string> items) =>
            items.Count == 1 ? items[0] : string.Join(", ", items.Take(items.Count - 1)) + " or " + items[^1];

        private static string? Suggest(string name, string[] candidates)
        {
            string? best = null;
            var bestDistance = int.MaxValue;
            foreach (var candidate in candidates)
            {
                var distance = EditDistance(name.ToLowerInvariant(), candidate.ToLowerInvariant());
                if (distance < bestDistance)
                {
                    bestDistance = distance;
                    best = candidate;
                }
            }

            return bestDistance <= Math.Max(2, name.Length / 3) ? best : null;
        }

        private static int EditDistance(string a, string b)
        {
            var previous = new int[b.Length + 1];
            var current = new int[b.Length + 1];
            for (var j = 0; j <= b.Length; j++)
            {
                previous[j] = j;
            }

            for (var i = 1; i <= a.Length; i++)
            {
                current[0] = i;
                for (var j = 1; j <= b.Length; j++)
                {
                    var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                    current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
                }

                (previous, current) = (current, previous);
            }

            return previous[b.Length];
        }
    }

    internal static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}
