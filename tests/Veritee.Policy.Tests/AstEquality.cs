namespace Veritee.Policy.Tests;

/// <summary>Structural equality of policy trees, ignoring source spans.</summary>
internal static class AstEquality
{
    public static bool Equal(PolicyDocument a, PolicyDocument b) =>
        a.Version == b.Version && Equal(a.Configuration, b.Configuration) && Equal(a.Authorization, b.Authorization) && Equal(a.Issuance, b.Issuance);

    private static bool Equal(RuleSection? a, RuleSection? b) =>
        a is null || b is null ? a is null && b is null : a.Kind == b.Kind && All(a.Rules, b.Rules, Equal);

    public static bool Equal(PolicyRule a, PolicyRule b) => All(a.Conditions, b.Conditions, Equal) && Equal(a.Action, b.Action);

    private static bool Equal(PolicyCondition a, PolicyCondition b) =>
        a.Negated == b.Negated && a.Label == b.Label && All(a.Predicates, b.Predicates, (x, y) => x.Property == y.Property && x.Operator == y.Operator && Equal(x.Operand, y.Operand));

    private static bool Equal(PolicyAction a, PolicyAction b) => (a, b) switch
    {
        (PermitAction, PermitAction) or (DenyAction, DenyAction) => true,
        (ClaimAction x, ClaimAction y) => x.Kind == y.Kind && (x.Claim, y.Claim) switch
        {
            (ClaimReferenceSpec r, ClaimReferenceSpec s) => r.Label == s.Label,
            (NewClaimSpec n, NewClaimSpec m) => Equal(n.Type, m.Type) && Equal(n.Value, m.Value) && n.ValueType == m.ValueType,
            _ => false,
        },
        _ => false,
    };

    private static bool Equal(PolicyExpression a, PolicyExpression b) => (a, b) switch
    {
        (LiteralExpression x, LiteralExpression y) => x.Value.Equals(y.Value),
        (PropertyAccessExpression x, PropertyAccessExpression y) => x.Label == y.Label && x.Property == y.Property,
        (FunctionCallExpression x, FunctionCallExpression y) => x.Function == y.Function && All(x.Arguments, y.Arguments, Equal),
        _ => false,
    };

    private static bool All<T>(IReadOnlyList<T> a, IReadOnlyList<T> b, Func<T, T, bool> equal)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (!equal(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }
}
