using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Veritee.Policy.Tests;

/// <summary>Printing a tree and parsing the text gives back the same tree, for random valid trees.</summary>
public class RoundTripPropertyTests
{
    private static readonly string[] Issuers = [ClaimIssuers.AttestationService, ClaimIssuers.AttestationPolicy, ClaimIssuers.CustomClaim];

    private static readonly ClaimProperty[] Properties = Enum.GetValues<ClaimProperty>();

    private static readonly ComparisonOperator[] Operators = Enum.GetValues<ComparisonOperator>();

    [Fact]
    public void Print_then_parse_is_the_identity_on_random_documents()
    {
        Prop.ForAll(Arb.From(DocumentGen()), document =>
        {
            var text = PolicyPrinter.Print(document);
            var parsed = PolicyParser.Parse(text);
            return (parsed.Success && AstEquality.Equal(document, parsed.Document!))
                .Label("text:\n" + text + "\ndiagnostics:\n" + string.Join("\n", parsed.Diagnostics));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Generated_documents_compile_and_evaluate_without_throwing()
    {
        PolicyClaim[] claims =
        [
            PolicyClaim.Service("a", ClaimValue.FromString("{\"a\": [1, 2]}")),
            PolicyClaim.Service("b", ClaimValue.FromInteger(7)),
            PolicyClaim.Service("a", ClaimValue.True),
            new PolicyClaim("c", ClaimValue.FromString("x"), ClaimIssuers.CustomClaim),
        ];
        Prop.ForAll(Arb.From(DocumentGen()), document =>
        {
            var result = CompiledPolicy.Compile(document).Evaluate(claims);
            return result.Reason.Length > 0 && (!result.Authorized || !result.IsError);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Printing_vector_policies_is_a_fixed_point_and_keeps_the_tree()
    {
        var count = 0;
        foreach (var file in PolicyVectors.AllPolicyFiles().Where(f => !f.Contains("fragments", StringComparison.Ordinal)))
        {
            var parsed = PolicyParser.Parse(PolicyVectors.ReadPolicy(file));
            if (!parsed.Success)
            {
                continue;
            }

            var printed = PolicyPrinter.Print(parsed.Document!);
            var reparsed = PolicyParser.Parse(printed);
            Assert.True(reparsed.Success, file + "\n" + string.Join("\n", reparsed.Diagnostics));
            Assert.Empty(reparsed.Diagnostics); // canonical text has no lenient forms left to warn about
            Assert.True(AstEquality.Equal(parsed.Document!, reparsed.Document!), file);
            Assert.Equal(printed, PolicyPrinter.Print(reparsed.Document!));
            count++;
        }

        Assert.Equal(26, count); // 29 whole-policy vectors less the 3 published with typos
    }

    private static Gen<PolicyDocument> DocumentGen() =>
        from version in Gen.Elements(PolicyVersion.V1_0, PolicyVersion.V1_1, PolicyVersion.V1_2)
        from hasConfig in Gen.Elements(true, false)
        from configuration in SectionGen(version, SectionKind.Configuration)
        from authorization in SectionGen(version, SectionKind.Authorization)
        from hasIssuance in Gen.Elements(true, false)
        from issuance in SectionGen(version, SectionKind.Issuance)
        select new PolicyDocument(
            version,
            hasConfig && version != PolicyVersion.V1_0 ? configuration : null,
            authorization,
            hasIssuance ? issuance : null);

    private static Gen<RuleSection> SectionGen(PolicyVersion version, SectionKind kind) =>
        from count in Gen.Choose(0, 4)
        from rules in Gen.ArrayOf(RuleGen(version, kind), count)
        select new RuleSection(kind, rules, SourceSpan.None);

    private static Gen<PolicyRule> RuleGen(PolicyVersion version, SectionKind kind) =>
        from count in Gen.Choose(0, 3)
        from conditions in ConditionsGen(version, count, 0, [])
        from action in ActionGen(version, kind, conditions.Where(c => c.Label is not null).Select(c => c.Label!).ToArray())
        select new PolicyRule(conditions, action, SourceSpan.None);

    /// <summary>Conditions left to right; each may use labels bound by earlier ones.</summary>
    private static Gen<PolicyCondition[]> ConditionsGen(PolicyVersion version, int count, int index, string[] bound)
    {
        if (index == count)
        {
            return Gen.Constant(Array.Empty<PolicyCondition>());
        }

        return from negated in version == PolicyVersion.V1_2 ? Gen.Elements(false, false, true) : Gen.Constant(false)
               from labelled in Gen.Elements(true, false)
               from predicateCount in Gen.Choose(0, 3)
               from predicates in Gen.ArrayOf(PredicateGen(version, bound), predicateCount)
               let label = labelled && !negated ? (index % 2 == 0 ? "c" : "Label_") + index : null
               from rest in ConditionsGen(version, count, index + 1, label is null ? bound : [.. bound, label])
               select (PolicyCondition[])[new PolicyCondition(negated, label, predicates, SourceSpan.None), .. rest];
    }

    private static Gen<PolicyPredicate> PredicateGen(PolicyVersion version, string[] bound) =>
        from property in Gen.Elements(Properties)
        from op in property == ClaimProperty.Value ? Gen.Elements(Operators) : Gen.Elements(ComparisonOperator.Equal, ComparisonOperator.NotEqual)
        from operand in OperandGen(version, property, op, bound)
        select new PolicyPredicate(property, op, operand, SourceSpan.None);

    private static Gen<PolicyExpression> OperandGen(PolicyVersion version, ClaimProperty property, ComparisonOperator op, string[] bound)
    {
        var accesses = bound.Length == 0 ? null : AccessGen(bound);
        return property switch
        {
            ClaimProperty.Type => StringLiteralGen(),
            ClaimProperty.Issuer => Gen.Elements(Issuers).Select(Literal),
            ClaimProperty.ValueType => Gen.Elements("String", "Integer", "Boolean").Select(Literal),
            _ when op is not (ComparisonOperator.Equal or ComparisonOperator.NotEqual) =>
                accesses is null ? IntegerLiteralGen() : Gen.OneOf(IntegerLiteralGen(), accesses),
            _ => ExpressionGen(version, bound, 2),
        };
    }

    private static Gen<PolicyAction> ActionGen(PolicyVersion version, SectionKind kind, string[] bound)
    {
        var claimKinds = kind switch
        {
            SectionKind.Configuration => new[] { ClaimActionKind.IssueProperty, ClaimActionKind.Add },
            _ => Enum.GetValues<ClaimActionKind>(),
        };
        var claimAction =
            from claimKind in Gen.Elements(claimKinds)
            from spec in ClaimSpecGen(version, bound)
            select (PolicyAction)new ClaimAction(claimKind, spec, SourceSpan.None);
        return kind == SectionKind.Authorization
            ? Gen.OneOf(Gen.Constant<PolicyAction>(new PermitAction(SourceSpan.None)), Gen.Constant<PolicyAction>(new DenyAction(SourceSpan.None)), claimAction)
            : claimAction;
    }

    private static Gen<ClaimSpec> ClaimSpecGen(PolicyVersion version, string[] bound)
    {
        var newClaim =
            from type in bound.Length == 0 ? StringLiteralGen() : Gen.OneOf(StringLiteralGen(), Gen.Elements(bound).Select(l => (PolicyExpression)new PropertyAccessExpression(l, ClaimProperty.Type, SourceSpan.None)))
            from value in ExpressionGen(version, bound, 2)
            from valueType in Gen.Elements<ClaimValueKind?>(null, null, ClaimValueKind.String, ClaimValueKind.Integer, ClaimValueKind.Boolean)
            select (ClaimSpec)new NewClaimSpec(type, value, valueType, SourceSpan.None);
        return bound.Length == 0
            ? newClaim
            : Gen.OneOf(newClaim, Gen.Elements(bound).Select(l => (ClaimSpec)new ClaimReferenceSpec(l, SourceSpan.None)));
    }

    private static Gen<PolicyExpression> ExpressionGen(PolicyVersion version, string[] bound, int depth)
    {
        var options = new List<Gen<PolicyExpression>> { StringLiteralGen(), IntegerLiteralGen(), Gen.Elements(true, false).Select(b => Literal(ClaimValue.FromBoolean(b))) };
        if (bound.Length > 0)
        {
            options.Add(AccessGen(bound));
        }

        if (version == PolicyVersion.V1_2 && depth > 0)
        {
            options.Add(CallGen(bound, depth));
        }

        return Gen.OneOf(options.ToArray());
    }

    /// <summary>Function calls whose literal arguments pass the parser's checks (valid JSON, valid queries, right types).</summary>
    private static Gen<PolicyExpression> CallGen(string[] bound, int depth)
    {
        Gen<PolicyExpression> Arg(params string[] literals)
        {
            var literal = Gen.Elements(literals).Select(Literal);
            return bound.Length == 0 ? literal : Gen.OneOf(literal, AccessGen(bound));
        }

        var any = ExpressionGen(PolicyVersion.V1_2, bound, depth - 1);
        var boolean = bound.Length == 0 ? Gen.Elements(true, false).Select(b => Literal(ClaimValue.FromBoolean(b))) : Gen.OneOf(Gen.Elements(true, false).Select(b => Literal(ClaimValue.FromBoolean(b))), AccessGen(bound));
        return Gen.OneOf(
            from json in Arg("{\"a\": [1, 2]}", "[]") from query in Arg("a", "a[0]", "length(@)") select Call(PolicyFunction.JmesPath, json, query),
            Arg("1", "[1, \"x\", true, null]", "null", "\"s\"").Select(json => Call(PolicyFunction.JsonToClaimValue, json)),
            from a in any from b in any select Call(PolicyFunction.IsSubsetOf, a, b),
            from a in Arg("", "x\"y") from b in Arg("z") select Call(PolicyFunction.AppendString, a, b),
            boolean.Select(b => Call(PolicyFunction.NegateBool, b)),
            from a in any from b in any select Call(PolicyFunction.ContainsOnlyValue, a, b));
    }

    private static Gen<PolicyExpression> AccessGen(string[] bound) =>
        from label in Gen.Elements(bound)
        from property in Gen.Elements(Properties)
        select (PolicyExpression)new PropertyAccessExpression(label, property, SourceSpan.None);

    private static Gen<PolicyExpression> StringLiteralGen() =>
        from length in Gen.Choose(0, 12)
        from chars in Gen.ArrayOf(Gen.Elements('a', 'Z', '0', '-', '$', ' ', '"', '\\', '/', '\n', '\t', '\u0001', '\u007F', 'é', '\u201D', '[', ';', '`', '\''), length)
        select Literal(new string(chars));

    private static Gen<PolicyExpression> IntegerLiteralGen() =>
        Gen.OneOf(Gen.Choose(-1000, 1000).Select(i => (long)i), Gen.Elements(long.MinValue, long.MaxValue, 0L)).Select(i => Literal(ClaimValue.FromInteger(i)));

    private static PolicyExpression Literal(string value) => Literal(ClaimValue.FromString(value));

    private static PolicyExpression Literal(ClaimValue value) => new LiteralExpression(value, SourceSpan.None);

    private static PolicyExpression Call(PolicyFunction function, params PolicyExpression[] args) => new FunctionCallExpression(function, args, SourceSpan.None);
}
