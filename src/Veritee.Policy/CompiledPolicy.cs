using System.Globalization;
using System.Runtime.CompilerServices;

namespace Veritee.Policy;

/// <summary>The outcome of evaluating a policy against a set of incoming claims.</summary>
public sealed class PolicyEvaluationResult
{
    /// <summary>MAA's text when no <c>permit()</c> fired.</summary>
    public const string NoPermitReason = "No Permit claim was issued in the authorizationrules section, authorization failed.";

    /// <summary>MAA's text when a <c>deny()</c> fired.</summary>
    public const string DenyReason = "A Deny claim was issued, authorization failed.";

    /// <summary>The text for a successful authorization.</summary>
    public const string PermitReason = "A Permit claim was issued and no Deny claim.";

    internal PolicyEvaluationResult(bool authorized, bool isError, string reason, PolicyClaim[] issued, PolicyClaim[] properties)
    {
        Authorized = authorized;
        IsError = isError;
        Reason = reason;
        Issued = issued;
        Properties = properties;
    }

    /// <summary>True iff a <c>permit()</c> fired, no <c>deny()</c> fired and no rule failed.</summary>
    public bool Authorized { get; }

    /// <summary>True when a rule could not be evaluated (e.g. a function got invalid JSON); the result is then not authorized.</summary>
    public bool IsError { get; }

    /// <summary>Why the policy authorized or not, in MAA's words where MAA has them.</summary>
    public string Reason { get; }

    /// <summary>Claims issued for the token (by <c>issue</c>), in the order issued; empty when not authorized.</summary>
    public IReadOnlyList<PolicyClaim> Issued { get; }

    /// <summary>Property claims (by <c>issueproperty</c>), in the order issued.</summary>
    public IReadOnlyList<PolicyClaim> Properties { get; }
}

/// <summary>
/// A policy compiled for repeated evaluation. Immutable and safe to share between threads; evaluation allocates only
/// the result and its claim arrays (and whatever 1.2 functions need).
/// </summary>
/// <remarks>
/// Evaluation semantics (Microsoft's claim-rule documentation plus the decisions it leaves open; summarised in docs/protocol.md §7):
/// <list type="bullet">
/// <item>Sections run in order configurationrules, authorizationrules, issuancerules; rules in source order. Claims
/// added by a rule (add, issue, issueproperty; issuer <c>AttestationPolicy</c>) are visible to every later rule,
/// including later sections, but not to the rule that added them (each rule sees the claim set as it was when the rule
/// started, so a rule cannot feed itself).</item>
/// <item>A condition holds when at least one claim satisfies all its predicates; <c>![…]</c> when none does; <c>[]</c>
/// matches any claim. A condition without <c>issuer</c> matches claims of any issuer (the default SGX policy relies on
/// this).</item>
/// <item>A label binds the set of all claims satisfying its condition (given the labels bound to its left). The rule's
/// action runs once; <c>label.value</c> is the set of their values, and adding or issuing a set adds one claim per
/// element, so <c>c:[type=="t"] =&gt; issue(type="u", value=c.value)</c> with two <c>t</c> claims issues two
/// <c>u</c> claims, and <c>issue(claim=c)</c> re-issues every bound claim with its own type and value.</item>
/// <item>Comparison: values of different kinds are never equal (Integer 1 is not String "1"); <c>!=</c> is exactly the
/// negation of <c>==</c>; ordering holds only between Integers; strings compare ordinally, case-sensitively. Against a
/// set operand (<c>value == c.value</c> with several bound claims) <c>==</c> and ordering hold if they hold for some
/// element.</item>
/// <item>Authorization succeeds iff at least one <c>permit()</c> fired and no <c>deny()</c> fired; a <c>deny()</c>
/// wins whatever its position and stops the section. Issuance rules run only when authorized.</item>
/// <item><c>valueType="…"</c> in a claim action converts the value: to String by invariant formatting, to Integer from
/// a decimal string, to Boolean from "true"/"false" (any case); anything else is an evaluation error.</item>
/// <item>Any evaluation error (bad function argument, invalid JSON, a non-String claim type) fails the whole evaluation:
/// not authorized, <see cref="PolicyEvaluationResult.IsError"/> set, reason naming the rule's line and column.</item>
/// </list>
/// </remarks>
public sealed class CompiledPolicy
{
    [ThreadStatic]
    private static EvaluationContext? _threadContext;

    private readonly CompiledRule[] _configuration;
    private readonly CompiledRule[] _authorization;
    private readonly CompiledRule[] _issuance;
    private readonly int _slotCount;

    private CompiledPolicy(PolicyDocument document)
    {
        Document = document;
        var slots = 0;
        _configuration = CompileSection(document.Configuration, ref slots);
        _authorization = CompileSection(document.Authorization, ref slots);
        _issuance = CompileSection(document.Issuance, ref slots);
        _slotCount = slots;
    }

    /// <summary>The source tree.</summary>
    public PolicyDocument Document { get; }

    /// <summary>Compiles a parsed policy.</summary>
    /// <param name="document">A document from <see cref="PolicyParser.Parse"/>.</param>
    /// <returns>The compiled policy.</returns>
    public static CompiledPolicy Compile(PolicyDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        return new CompiledPolicy(document);
    }

    /// <summary>Evaluates the policy within <see cref="PolicyEvaluationLimits.Default"/>.</summary>
    /// <param name="incoming">The incoming claims (service, custom).</param>
    /// <returns>The decision and the issued and property claims.</returns>
    /// <exception cref="PolicyLimitExceededException">The evaluation exceeded a default limit.</exception>
    public PolicyEvaluationResult Evaluate(IReadOnlyList<PolicyClaim> incoming) => Evaluate(incoming, PolicyEvaluationLimits.Default);

    /// <summary>Evaluates the policy within <paramref name="limits"/>, checking <paramref name="cancellationToken"/> as it goes.</summary>
    /// <param name="incoming">The incoming claims (service, custom).</param>
    /// <param name="limits">The work and memory budget.</param>
    /// <param name="cancellationToken">Stops the evaluation (checked every few thousand steps).</param>
    /// <returns>The decision and the issued and property claims.</returns>
    /// <exception cref="PolicyLimitExceededException">The evaluation exceeded one of <paramref name="limits"/>; it names which.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public PolicyEvaluationResult Evaluate(IReadOnlyList<PolicyClaim> incoming, PolicyEvaluationLimits limits, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(incoming);
        ArgumentNullException.ThrowIfNull(limits);
        var context = _threadContext ?? new EvaluationContext();
        _threadContext = null; // a nested evaluation on this thread gets its own context
        try
        {
            context.Reset(incoming, _slotCount, limits, cancellationToken);
            return Run(context);
        }
        finally
        {
            context.Release();
            _threadContext = context;
        }
    }

    private PolicyEvaluationResult Run(EvaluationContext context)
    {
        CompiledRule? current = null;
        try
        {
            foreach (var rule in _configuration)
            {
                current = rule;
                rule.Execute(context);
            }

            foreach (var rule in _authorization)
            {
                current = rule;
                rule.Execute(context);
                if (context.Denied)
                {
                    return new PolicyEvaluationResult(false, false, PolicyEvaluationResult.DenyReason, [], context.PropertiesArray());
                }
            }

            if (!context.Permitted)
            {
                return new PolicyEvaluationResult(false, false, PolicyEvaluationResult.NoPermitReason, [], context.PropertiesArray());
            }

            foreach (var rule in _issuance)
            {
                current = rule;
                rule.Execute(context);
            }

            return new PolicyEvaluationResult(true, false, PolicyEvaluationResult.PermitReason, context.IssuedArray(), context.PropertiesArray());
        }
        catch (PolicyLimitExceededException e) when (current is not null)
        {
            throw e.At(current.Span);
        }
        catch (PolicyEvaluationException e)
        {
            var where = current is null ? string.Empty : string.Format(CultureInfo.InvariantCulture, " (rule at line {0}, column {1})", current.Span.Line, current.Span.Column);
            return new PolicyEvaluationResult(false, true, "Policy evaluation error" + where + ": " + e.Message, [], []);
        }
    }

    private static CompiledRule[] CompileSection(RuleSection? section, ref int slots)
    {
        if (section is null)
        {
            return [];
        }

        var rules = new CompiledRule[section.Rules.Count];
        for (var i = 0; i < rules.Length; i++)
        {
            rules[i] = CompiledRule.Create(section.Rules[i]);
            slots = Math.Max(slots, rules[i].SlotCount);
        }

        return rules;
    }

    /// <summary>Reusable per-thread scratch space: the growing claim set, outputs and label bindings.</summary>
    private sealed class EvaluationContext
    {
        private const int CheckInterval = 4096;
        private long _checkpoint;
        public PolicyClaim[] Claims = new PolicyClaim[32];
        public int ClaimCount;
        public PolicyClaim[] Issued = new PolicyClaim[16];
        public int IssuedCount;
        public PolicyClaim[] Properties = new PolicyClaim[4];
        public int PropertyCount;
        public int[] BindStart = new int[4];
        public int[] BindCount = new int[4];
        public int[] Bound = new int[32];
        public int BoundCount;
        public bool Permitted;
        public bool Denied;
        public PolicyEvaluationLimits Limits = PolicyEvaluationLimits.Default;
        public long Steps;
        public long ClaimBytes;
        public CancellationToken Cancellation;

        public void Reset(IReadOnlyList<PolicyClaim> incoming, int slots, PolicyEvaluationLimits limits, CancellationToken cancellation)
        {
            ClaimCount = 0;
            IssuedCount = 0;
            PropertyCount = 0;
            Permitted = false;
            Denied = false;
            Limits = limits;
            Cancellation = cancellation;
            Steps = 0;
            ClaimBytes = 0;
            _checkpoint = Math.Min(CheckInterval, limits.MaxSteps);
            cancellation.ThrowIfCancellationRequested();
            if (incoming.Count > limits.MaxClaims)
            {
                throw TooMany(nameof(PolicyEvaluationLimits.MaxClaims), limits.MaxClaims, "claims in the working set");
            }

            if (Claims.Length < incoming.Count + 16)
            {
                Claims = new PolicyClaim[incoming.Count + 16];
            }

            for (var i = 0; i < incoming.Count; i++)
            {
                var claim = incoming[i];
                if (claim.Type is null || claim.Issuer is null)
                {
                    throw new ArgumentException("Incoming claims need a type and an issuer.", nameof(incoming));
                }

                AddBytes(claim.Type, claim.Value);
                Claims[ClaimCount++] = claim;
            }

            if (BindStart.Length < slots)
            {
                BindStart = new int[slots];
                BindCount = new int[slots];
            }
        }

        public void Release()
        {
            // Drop references to caller data so a cached context does not keep it alive, and arrays grown by an
            // unusually large evaluation so a thread does not keep its peak.
            Array.Clear(Claims, 0, ClaimCount);
            Array.Clear(Issued, 0, IssuedCount);
            Array.Clear(Properties, 0, PropertyCount);
            ClaimCount = IssuedCount = PropertyCount = 0;
            Cancellation = default;
            if (Claims.Length > 1024)
            {
                Claims = new PolicyClaim[32];
            }

            if (Issued.Length > 1024)
            {
                Issued = new PolicyClaim[16];
            }

            if (Properties.Length > 1024)
            {
                Properties = new PolicyClaim[4];
            }

            if (Bound.Length > 4096)
            {
                Bound = new int[32];
            }
        }

        /// <summary>Counts <paramref name="steps"/> of work; every few thousand, checks the step limit and cancellation.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Charge(long steps)
        {
            Steps += steps;
            if (Steps > _checkpoint)
            {
                Checkpoint();
            }
        }

        public PolicyLimitExceededException TooMany(string limit, long value, string what) => new(limit, value, what);

        public void CheckSet(int count)
        {
            if (count > Limits.MaxSetElements)
            {
                throw TooMany(nameof(PolicyEvaluationLimits.MaxSetElements), Limits.MaxSetElements, "elements of a set");
            }
        }

        public void CheckString(int length)
        {
            if (length > Limits.MaxStringLength)
            {
                throw TooMany(nameof(PolicyEvaluationLimits.MaxStringLength), Limits.MaxStringLength, "characters of a string a function produces or receives");
            }
        }

        public void Emit(ClaimActionKind kind, string type, ClaimValue value)
        {
            Charge(1);
            if (ClaimCount >= Limits.MaxClaims)
            {
                throw TooMany(nameof(PolicyEvaluationLimits.MaxClaims), Limits.MaxClaims, "claims in the working set");
            }

            if (kind != ClaimActionKind.Add && IssuedCount + PropertyCount >= Limits.MaxIssuedClaims)
            {
                throw TooMany(nameof(PolicyEvaluationLimits.MaxIssuedClaims), Limits.MaxIssuedClaims, "claims issued");
            }

            AddBytes(type, value);
            var claim = new PolicyClaim(type, value, ClaimIssuers.AttestationPolicy);
            Append(ref Claims, ref ClaimCount, claim);
            if (kind == ClaimActionKind.Issue)
            {
                Append(ref Issued, ref IssuedCount, claim);
            }
            else if (kind == ClaimActionKind.IssueProperty)
            {
                Append(ref Properties, ref PropertyCount, claim);
            }
        }

        public void Bind(int index)
        {
            if (BoundCount == Bound.Length)
            {
                Array.Resize(ref Bound, Bound.Length * 2);
            }

            Bound[BoundCount++] = index;
        }

        private void AddBytes(string type, ClaimValue value)
        {
            ClaimBytes += (2L * type.Length) + (value.Kind == ClaimValueKind.String ? 2L * value.AsString.Length : 8);
            if (ClaimBytes > Limits.MaxClaimBytes)
            {
                throw TooMany(nameof(PolicyEvaluationLimits.MaxClaimBytes), Limits.MaxClaimBytes, "bytes of claim types and values in the working set");
            }
        }

        private void Checkpoint()
        {
            if (Steps > Limits.MaxSteps)
            {
                throw TooMany(nameof(PolicyEvaluationLimits.MaxSteps), Limits.MaxSteps, "evaluation steps");
            }

            Cancellation.ThrowIfCancellationRequested();
            _checkpoint = Math.Min(Steps + CheckInterval, Limits.MaxSteps);
        }

        public PolicyClaim[] IssuedArray() => IssuedCount == 0 ? [] : Issued.AsSpan(0, IssuedCount).ToArray();

        public PolicyClaim[] PropertiesArray() => PropertyCount == 0 ? [] : Properties.AsSpan(0, PropertyCount).ToArray();

        private static void Append(ref PolicyClaim[] array, ref int count, PolicyClaim claim)
        {
            if (count == array.Length)
            {
                Array.Resize(ref array, array.Length * 2);
            }

            array[count++] = claim;
        }
    }

    private sealed class CompiledRule
    {
        private CompiledCondition[] _conditions = [];
        private PolicyAction _action = null!;
        private ClaimActionKind _kind;
        private int _referenceSlot = -1;
        private CompiledExpression? _type;
        private CompiledExpression? _value;
        private ClaimValueKind? _valueType;

        public SourceSpan Span { get; private set; }

        public int SlotCount { get; private set; }

        public static CompiledRule Create(PolicyRule rule)
        {
            var slots = new Dictionary<string, int>(StringComparer.Ordinal);
            var compiled = new CompiledRule { Span = rule.Span, _action = rule.Action };
            var conditions = new CompiledCondition[rule.Conditions.Count];
            for (var i = 0; i < conditions.Length; i++)
            {
                var condition = rule.Conditions[i];
                var predicates = condition.Predicates.Select(p => new CompiledPredicate(p.Property, p.Operator, CompiledExpression.Create(p.Operand, slots))).ToArray();
                var slot = -1;
                if (condition.Label is not null)
                {
                    slot = slots.Count;
                    slots[condition.Label] = slot;
                }

                conditions[i] = new CompiledCondition(condition.Negated, slot, predicates);
            }

            compiled._conditions = conditions;
            if (rule.Action is ClaimAction claimAction)
            {
                compiled._kind = claimAction.Kind;
                switch (claimAction.Claim)
                {
                    case ClaimReferenceSpec reference:
                        compiled._referenceSlot = Slot(slots, reference.Label);
                        break;
                    case NewClaimSpec spec:
                        compiled._type = CompiledExpression.Create(spec.Type, slots);
                        compiled._value = CompiledExpression.Create(spec.Value, slots);
                        compiled._valueType = spec.ValueType;
                        break;
                    default:
                        throw new ArgumentException("Unknown claim spec.", nameof(rule));
                }
            }

            compiled.SlotCount = slots.Count;
            return compiled;
        }

        internal static int Slot(Dictionary<string, int> slots, string label) =>
            slots.TryGetValue(label, out var slot)
                ? slot
                : throw new ArgumentException($"Label '{label}' is not bound; only documents from PolicyParser can be compiled.");

        public void Execute(EvaluationContext context)
        {
            var visible = context.ClaimCount;
            context.BoundCount = 0;
            foreach (var condition in _conditions)
            {
                if (!condition.Holds(context, visible))
                {
                    return;
                }
            }

            switch (_action)
            {
                case PermitAction:
                    context.Permitted = true;
                    return;
                case DenyAction:
                    context.Denied = true;
                    return;
                default:
                    break;
            }

            if (_referenceSlot >= 0)
            {
                var start = context.BindStart[_referenceSlot];
                var count = context.BindCount[_referenceSlot];
                for (var i = 0; i < count; i++)
                {
                    var claim = context.Claims[context.Bound[start + i]];
                    context.Emit(_kind, claim.Type, claim.Value);
                }

                return;
            }

            var type = _type!.Evaluate(context);
            if (type.Kind != ClaimValueKind.String)
            {
                throw new PolicyEvaluationException($"the claim type must be a String, got {ClaimValue.KindName(type.Kind)} {type}");
            }

            var typeName = type.AsString;
            if (_value is CompiledAccess access)
            {
                // Common case (issue(type=…, value=c.value)): walk the bound claims, no set is built.
                var start = context.BindStart[access.Slot];
                var count = context.BindCount[access.Slot];
                for (var i = 0; i < count; i++)
                {
                    EmitConverted(context, typeName, access.Read(context.Claims[context.Bound[start + i]]));
                }

                return;
            }

            var value = _value!.Evaluate(context);
            if (value.Kind == ClaimValueKind.Set)
            {
                foreach (var element in value.SetElements)
                {
                    EmitConverted(context, typeName, element);
                }
            }
            else
            {
                EmitConverted(context, typeName, value);
            }
        }

        private void EmitConverted(EvaluationContext context, string type, ClaimValue value)
        {
            if (_valueType is { } target && value.Kind != target)
            {
                value = Convert(value, target);
            }

            context.Emit(_kind, type, value);
        }

        private static ClaimValue Convert(ClaimValue value, ClaimValueKind target)
        {
            switch (target)
            {
                case ClaimValueKind.String:
                    return ClaimValue.FromString(value.Kind == ClaimValueKind.Integer
                        ? value.AsInteger.ToString(CultureInfo.InvariantCulture)
                        : value.AsBoolean ? "true" : "false");
                case ClaimValueKind.Integer when value.Kind == ClaimValueKind.String
                                                 && long.TryParse(value.AsString, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer):
                    return ClaimValue.FromInteger(integer);
                case ClaimValueKind.Boolean when value.Kind == ClaimValueKind.String && bool.TryParse(value.AsString, out var boolean):
                    return ClaimValue.FromBoolean(boolean);
                default:
                    throw new PolicyEvaluationException($"cannot convert {ClaimValue.KindName(value.Kind)} {value} to valueType \"{ClaimValue.KindName(target)}\"");
            }
        }
    }

    private sealed class CompiledCondition(bool negated, int slot, CompiledPredicate[] predicates)
    {
        public bool Holds(EvaluationContext context, int visible)
        {
            context.Charge(visible);
            var claims = context.Claims;
            if (slot < 0)
            {
                for (var i = 0; i < visible; i++)
                {
                    if (Matches(context, in claims[i]))
                    {
                        return !negated;
                    }
                }

                return negated;
            }

            var start = context.BoundCount;
            for (var i = 0; i < visible; i++)
            {
                if (Matches(context, in claims[i]))
                {
                    context.Bind(i);
                }
            }

            context.BindStart[slot] = start;
            context.BindCount[slot] = context.BoundCount - start;
            return context.BoundCount > start;
        }

        private bool Matches(EvaluationContext context, in PolicyClaim claim)
        {
            foreach (var predicate in predicates)
            {
                if (!predicate.Matches(context, in claim))
                {
                    return false;
                }
            }

            return true;
        }
    }

    private sealed class CompiledPredicate(ClaimProperty property, ComparisonOperator op, CompiledExpression operand)
    {
        private readonly string? _literalString = operand is CompiledLiteral { Value.Kind: ClaimValueKind.String } l ? l.Value.AsString : null;

        public bool Matches(EvaluationContext context, in PolicyClaim claim)
        {
            // Fast path for the overwhelmingly common [type=="…"] / [issuer=="…"].
            if (_literalString is not null && property is ClaimProperty.Type or ClaimProperty.Issuer && op is ComparisonOperator.Equal or ComparisonOperator.NotEqual)
            {
                var text = property == ClaimProperty.Type ? claim.Type : claim.Issuer;
                return string.Equals(text, _literalString, StringComparison.Ordinal) == (op == ComparisonOperator.Equal);
            }

            var left = CompiledAccess.ReadProperty(claim, property);
            if (operand is CompiledAccess access)
            {
                var start = context.BindStart[access.Slot];
                var count = context.BindCount[access.Slot];
                context.Charge(count);
                var any = false;
                var positive = op == ComparisonOperator.NotEqual ? ComparisonOperator.Equal : op;
                for (var i = 0; i < count && !any; i++)
                {
                    any = Compare(left, positive, access.Read(context.Claims[context.Bound[start + i]]));
                }

                return op == ComparisonOperator.NotEqual ? !any : any;
            }

            var right = operand.Evaluate(context);
            if (right.Kind == ClaimValueKind.Set && left.Kind != ClaimValueKind.Set)
            {
                context.Charge(right.SetElements.Length);
                var positive = op == ComparisonOperator.NotEqual ? ComparisonOperator.Equal : op;
                var any = false;
                foreach (var element in right.SetElements)
                {
                    if (Compare(left, positive, element))
                    {
                        any = true;
                        break;
                    }
                }

                return op == ComparisonOperator.NotEqual ? !any : any;
            }

            return Compare(left, op, right);
        }

        private static bool Compare(ClaimValue left, ComparisonOperator op, ClaimValue right) => op switch
        {
            ComparisonOperator.Equal => left.Equals(right),
            ComparisonOperator.NotEqual => !left.Equals(right),
            _ when left.Kind != ClaimValueKind.Integer || right.Kind != ClaimValueKind.Integer => false,
            ComparisonOperator.Less => left.AsInteger < right.AsInteger,
            ComparisonOperator.LessOrEqual => left.AsInteger <= right.AsInteger,
            ComparisonOperator.Greater => left.AsInteger > right.AsInteger,
            _ => left.AsInteger >= right.AsInteger,
        };
    }

    private abstract class CompiledExpression
    {
        public abstract ClaimValue Evaluate(EvaluationContext context);

        public static CompiledExpression Create(PolicyExpression expression, Dictionary<string, int> slots) => expression switch
        {
            LiteralExpression literal => new CompiledLiteral(literal.Value),
            PropertyAccessExpression access => new CompiledAccess(CompiledRule.Slot(slots, access.Label), access.Property),
            FunctionCallExpression call => new CompiledCall(call.Function, call.Arguments.Select(a => Create(a, slots)).ToArray()),
            _ => throw new ArgumentException("Unknown expression " + expression.GetType().Name, nameof(expression)),
        };
    }

    private sealed class CompiledLiteral(ClaimValue value) : CompiledExpression
    {
        public ClaimValue Value { get; } = value;

        public override ClaimValue Evaluate(EvaluationContext context) => Value;
    }

    private sealed class CompiledAccess(int slot, ClaimProperty property) : CompiledExpression
    {
        private static readonly ClaimValue[] KindNames =
            [ClaimValue.FromString("String"), ClaimValue.FromString("Integer"), ClaimValue.FromString("Boolean"), ClaimValue.FromString("Set")];

        public int Slot { get; } = slot;

        public ClaimValue Read(in PolicyClaim claim) => ReadProperty(claim, property);

        public static ClaimValue ReadProperty(in PolicyClaim claim, ClaimProperty property) => property switch
        {
            ClaimProperty.Type => ClaimValue.FromString(claim.Type),
            ClaimProperty.Value => claim.Value,
            ClaimProperty.Issuer => ClaimValue.FromString(claim.Issuer),
            _ => KindNames[(int)claim.Value.Kind],
        };

        public override ClaimValue Evaluate(EvaluationContext context)
        {
            var start = context.BindStart[Slot];
            var count = context.BindCount[Slot];
            if (count == 1)
            {
                return Read(context.Claims[context.Bound[start]]);
            }

            context.CheckSet(count);
            context.Charge(count);
            var values = new ClaimValue[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = Read(context.Claims[context.Bound[start + i]]);
            }

            return ClaimValue.FromSet(values);
        }
    }

    private sealed class CompiledCall(PolicyFunction function, CompiledExpression[] arguments) : CompiledExpression
    {
        public override ClaimValue Evaluate(EvaluationContext context)
        {
            var values = new ClaimValue[arguments.Length];
            long size = 0;
            long elements = 1;
            for (var i = 0; i < values.Length; i++)
            {
                var value = values[i] = arguments[i].Evaluate(context);
                if (value.Kind == ClaimValueKind.String)
                {
                    context.CheckString(value.AsString.Length);
                    size += value.AsString.Length;
                }
                else if (value.Kind == ClaimValueKind.Set)
                {
                    context.CheckSet(value.SetElements.Length);
                    foreach (var element in value.SetElements)
                    {
                        if (element.Kind == ClaimValueKind.String)
                        {
                            context.CheckString(element.AsString.Length);
                        }
                    }

                    // IsSubsetOf compares every element of one set with every element of the other.
                    elements *= Math.Max(1, value.SetElements.Length);
                }
            }

            // One step per call, per 64 characters handled and per element comparison.
            context.Charge(1 + (size / 64) + (elements > 1 ? elements : 0));
            if (function == PolicyFunction.AppendString)
            {
                // Refused before the concatenation allocates.
                context.CheckString((int)Math.Min(size, int.MaxValue));
            }

            ClaimValue result;
            if (function == PolicyFunction.JmesPath)
            {
                result = JmesPath(context, values);
            }
            else
            {
                result = PolicyFunctions.Invoke(function, values);
            }

            if (result.Kind == ClaimValueKind.String)
            {
                context.CheckString(result.AsString.Length);
                context.Charge(result.AsString.Length / 64);
            }
            else if (result.Kind == ClaimValueKind.Set)
            {
                context.CheckSet(result.SetElements.Length);
                context.Charge(result.SetElements.Length);
            }

            return result;
        }

        private static ClaimValue JmesPath(EvaluationContext context, ClaimValue[] values)
        {
            // Arguments are checked as Invoke checks them, then the query's growth is bounded before it runs.
            var json = PolicyFunctions.Single(values[0], PolicyFunction.JmesPath, 1, ClaimValueKind.String).AsString;
            var query = PolicyFunctions.Single(values[1], PolicyFunction.JmesPath, 2, ClaimValueKind.String).AsString;
            if (query.Length > PolicyFunctions.MaxJmesPathQueryLength)
            {
                throw new PolicyEvaluationException($"JmesPath: the query is {query.Length} characters; at most {PolicyFunctions.MaxJmesPathQueryLength} are evaluated");
            }

            var growth = PolicyFunctions.JmesPathGrowth(query, out var refused);
            if (refused is not null)
            {
                throw new PolicyEvaluationException($"JmesPath: the function {refused}() is not evaluated (its output is not bounded by its input)");
            }

            if (growth > PolicyFunctions.MaxJmesPathGrowth)
            {
                throw new PolicyEvaluationException($"JmesPath: the query could grow its input {growth}-fold (multi-selects and growing functions such as to_string); at most {PolicyFunctions.MaxJmesPathGrowth}-fold is evaluated");
            }

            // Every stage of the query may walk the (grown) input once.
            context.Charge(growth * (1 + (json.Length / 64)) * (1 + (query.Length / 16)));
            try
            {
                return ClaimValue.FromString(PolicyFunctions.JmesPathQuery(json, query, context.Limits.MaxStringLength));
            }
            catch (BoundedStringWriter.FullException)
            {
                throw context.TooMany(nameof(PolicyEvaluationLimits.MaxStringLength), context.Limits.MaxStringLength, "characters of a string a function produces or receives");
            }
        }
    }
}
