using System.CommandLine;
using Veritee.Policy;
using Veritee.Service;

namespace Veritee.Cli;

/// <summary><c>serve</c> options for policy evaluation: the evaluation budget, whether draft policies are accepted, and the TDX extension claims.</summary>
internal sealed class ServePolicyOptions
{
    private readonly Option<string> _draftPolicy = new("--draft-policy")
    {
        Description = "on (default, as MAA): attestation requests may carry draftPolicyForAttestation (unsigned token); off: such requests get 400.",
        DefaultValueFactory = _ => "on",
    };

    private readonly Option<string> _tdxExtensionClaims = new("--tdx-extension-claims")
    {
        Description = "off (default): TdxVm tokens carry MAA's TDX claim set only; on: also tdx_tee_tcb_svn2 and tdx_mrservicetd (TD 1.5), attester_advisory_ids and attester_tcb_date.",
        DefaultValueFactory = _ => "off",
    };

    private readonly Option<int> _maxClaims = Limit("--policy-max-claims", "Claims in a policy evaluation's working set (incoming plus added).", PolicyEvaluationLimits.Default.MaxClaims);
    private readonly Option<long> _maxClaimBytes = Limit("--policy-max-claim-bytes", "Bytes of claim types and values in the working set (UTF-16).", PolicyEvaluationLimits.Default.MaxClaimBytes);
    private readonly Option<int> _maxIssued = Limit("--policy-max-issued-claims", "Claims a policy may issue (issue plus issueproperty).", PolicyEvaluationLimits.Default.MaxIssuedClaims);
    private readonly Option<int> _maxString = Limit("--policy-max-string-length", "Characters of any string a policy function produces or receives.", PolicyEvaluationLimits.Default.MaxStringLength);
    private readonly Option<int> _maxSet = Limit("--policy-max-set-elements", "Elements of any set (array) a policy expression produces.", PolicyEvaluationLimits.Default.MaxSetElements);
    private readonly Option<long> _maxSteps = Limit("--policy-max-steps", "Evaluation steps (claims tested, elements compared, claims emitted, function calls).", PolicyEvaluationLimits.Default.MaxSteps);

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _draftPolicy, _tdxExtensionClaims, _maxClaims, _maxClaimBytes, _maxIssued, _maxString, _maxSet, _maxSteps })
        {
            command.Options.Add(option);
        }
    }

    /// <summary><paramref name="options"/> with the parsed policy settings; a CliException for a bad value.</summary>
    public ServiceOptions Apply(ParseResult parse, ServiceOptions options) => options with
    {
        AllowDraftPolicy = OnOff(parse.GetValue(_draftPolicy)!, "--draft-policy"),
        TdxExtensionClaims = OnOff(parse.GetValue(_tdxExtensionClaims)!, "--tdx-extension-claims"),
        PolicyLimits = new PolicyEvaluationLimits
        {
            MaxClaims = Positive(parse.GetValue(_maxClaims), "--policy-max-claims"),
            MaxClaimBytes = Positive(parse.GetValue(_maxClaimBytes), "--policy-max-claim-bytes"),
            MaxIssuedClaims = Positive(parse.GetValue(_maxIssued), "--policy-max-issued-claims"),
            MaxStringLength = Positive(parse.GetValue(_maxString), "--policy-max-string-length"),
            MaxSetElements = Positive(parse.GetValue(_maxSet), "--policy-max-set-elements"),
            MaxSteps = Positive(parse.GetValue(_maxSteps), "--policy-max-steps"),
        },
    };

    private static bool OnOff(string value, string option) => value.ToUpperInvariant() switch
    {
        "ON" => true,
        "OFF" => false,
        var other => throw new CliException($"{option} must be on or off, not '{other.ToLowerInvariant()}'"),
    };

    private static Option<T> Limit<T>(string name, string description, T value) =>
        new(name) { Description = description, DefaultValueFactory = _ => value };

    private static T Positive<T>(T value, string option)
        where T : System.Numerics.INumber<T> =>
        value > T.Zero ? value : throw new CliException($"{option} must be positive");
}
