namespace Veritee.Policy;

/// <summary>Placeholder namespace anchor; the policy language lives in this assembly.</summary>
internal static class PolicyAssembly
{
}
