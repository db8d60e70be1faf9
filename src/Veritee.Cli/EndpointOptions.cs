using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Veritee.Client;
using Veritee.Tokens;

namespace Veritee.Cli;

/// <summary>
/// The options of every command that talks to an MAA-compatible endpoint (<c>attest</c>, <c>policy get|set|reset</c>,
/// <c>signer list|add|remove</c>, <c>token verify --endpoint</c>) and how their failures become exit codes.
/// </summary>
internal sealed class EndpointOptions
{
    public const string AdminTokenVariable = "VERITEE_ADMIN_TOKEN";

    public EndpointOptions(bool required = true, bool admin = false)
    {
        Endpoint = new Option<string?>("--endpoint")
        {
            Description = "The attestation instance, e.g. https://myattest.wus.attest.azure.net or http://127.0.0.1:8080 (veritee serve). It is the pinned token issuer; keys come only from its /certs.",
            Required = required,
        };
        AdminToken = admin
            ? new Option<string?>("--admin-token") { Description = $"Bearer token for policy and signer management (default: ${AdminTokenVariable}). An AAD access token on Azure, the admin token on veritee serve." }
            : null;
    }

    public Option<string?> Endpoint { get; }

    public Option<string> ApiVersion { get; } = new("--api-version") { Description = "The api-version query parameter (default 2022-08-01).", DefaultValueFactory = _ => AttestationClientOptions.DefaultApiVersion };

    public Option<FileInfo?> CaCert { get; } = new("--ca-cert") { Description = "A PEM/DER certificate (CA or the self-signed server certificate) trusted for the endpoint's TLS, in addition to the system store." };

    public Option<string?> At { get; } = new("--at") { Description = "Validate tokens at this time: unix seconds or ISO-8601 (default: now)." };

    public Option<int> Skew { get; } = new("--skew") { Description = "Allowed clock skew for token exp/nbf in seconds, 0–300 (default 10).", DefaultValueFactory = _ => 10 };

    public Option<string?>? AdminToken { get; }

    public void AddTo(Command command)
    {
        command.Options.Add(Endpoint);
        command.Options.Add(ApiVersion);
        command.Options.Add(CaCert);
        command.Options.Add(At);
        command.Options.Add(Skew);
        if (AdminToken is not null)
        {
            command.Options.Add(AdminToken);
        }
    }

    public bool HasEndpoint(ParseResult parse) => !string.IsNullOrEmpty(parse.GetValue(Endpoint));

    public Uri EndpointUri(ParseResult parse)
    {
        var text = parse.GetValue(Endpoint);
        if (string.IsNullOrEmpty(text) || !Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw new CliException($"--endpoint: '{text}' is not an absolute http(s) URL");
        }

        return uri;
    }

    public AttestationClientOptions ClientOptions(ParseResult parse) =>
        BuildOptions(parse.GetValue(ApiVersion), parse.GetValue(CaCert), parse.GetValue(At), parse.GetValue(Skew));

    /// <summary>Client options from the command's values (skew in seconds, 0–300).</summary>
    public static AttestationClientOptions BuildOptions(string? apiVersion, FileInfo? caCert, string? at, int skewSeconds)
    {
        if (skewSeconds is < 0 or > 300)
        {
            throw new CliException("--skew: must be between 0 and 300 seconds");
        }

        return new AttestationClientOptions
        {
            ApiVersion = apiVersion ?? AttestationClientOptions.DefaultApiVersion,
            ClockSkew = TimeSpan.FromSeconds(skewSeconds),
            TrustedServerCertificates = caCert is null ? [] : [LoadCertificate(caCert)],
            TimeProvider = at is null ? TimeProvider.System : new FixedTime(CliTime.Parse(at, DateTimeOffset.UtcNow)),
        };
    }

    public AttestationClient CreateClient(ParseResult parse) => Construct(() => new AttestationClient(EndpointUri(parse), ClientOptions(parse)));

    /// <summary>A client for <paramref name="endpoint"/> with <paramref name="options"/>; a bad URL is an input error.</summary>
    public static AttestationClient CreateClient(string endpoint, AttestationClientOptions options) =>
        Uri.TryCreate(endpoint, UriKind.Absolute, out var uri)
            ? Construct(() => new AttestationClient(uri, options))
            : throw new CliException($"--endpoint: '{endpoint}' is not an absolute http(s) URL");

    public AttestationAdministrationClient CreateAdmin(ParseResult parse)
    {
        var token = (AdminToken is null ? null : parse.GetValue(AdminToken)) ?? Environment.GetEnvironmentVariable(AdminTokenVariable);
        if (string.IsNullOrWhiteSpace(token))
        {
            throw new CliException($"policy and signer management need a bearer token: --admin-token or ${AdminTokenVariable}");
        }

        return Construct(() => new AttestationAdministrationClient(EndpointUri(parse), AttestationCredential.FromToken(token), ClientOptions(parse)));
    }

    /// <summary>
    /// Runs an endpoint command: exit 1 when the service refused or a token is invalid, 2 when the endpoint could not be
    /// reached or the input is unusable.
    /// </summary>
    public static Func<ParseResult, int> Guard(Func<ParseResult, CancellationToken, Task<int>> body) =>
        VeriteeCommand.Guard(parse => Await(body(parse, CancellationToken.None)));

    /// <summary>Waits for an endpoint operation and turns its failures into <see cref="CliException"/> with the exit code.</summary>
    public static T Await<T>(Task<T> operation)
    {
        try
        {
            return operation.GetAwaiter().GetResult();
        }
        catch (AttestationException e)
        {
            // A refusal of the evidence or of a policy is a negative answer; bad credentials and broken answers decide nothing.
            var refused = (int)e.Status is >= 400 and < 500 && e.Status is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden);
            throw new CliException(Describe(e), refused ? ExitCodes.Negative : ExitCodes.UsageOrInput);
        }
        catch (AttestationTokenValidationException e)
        {
            throw new CliException($"the service's token is not valid: {e.Reason}: {e.Message}", ExitCodes.Negative);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"--endpoint: cannot reach the service: {Flatten(e)}");
        }
        catch (TaskCanceledException)
        {
            throw new CliException("--endpoint: the service did not answer in time");
        }
    }

    internal static string Describe(AttestationException e) => e.ErrorCode is null
        ? "the service answered: " + e.Message
        : string.Create(CultureInfo.InvariantCulture, $"the service refused: {(int)e.Status} {e.ErrorCode}: {e.ServiceMessage}");

    internal static X509Certificate2 LoadCertificate(FileInfo file)
    {
        try
        {
            return JwsSigningKey.LoadCertificate(File.ReadAllBytes(file.FullName));
        }
        catch (TokenFormatException e)
        {
            throw new CliException($"{file}: {e.Message}");
        }
    }

    private static T Construct<T>(Func<T> create)
    {
        try
        {
            return create();
        }
        catch (ArgumentException e)
        {
            throw new CliException("--endpoint: " + e.Message);
        }
    }

    private static string Flatten(Exception e)
    {
        var messages = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is not AggregateException && !messages.Contains(current.Message))
            {
                messages.Add(current.Message);
            }
        }

        return string.Join(": ", messages);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

/// <summary>
/// The attestation type of policy commands, as users type it — <c>policy get SgxEnclave</c> — or as the option
/// <c>--type SgxEnclave</c>; either, not both.
/// </summary>
internal sealed class AttestationTypeOption
{
    /// <param name="beforeAnotherArgument">
    /// True when a required argument follows TYPE (<c>policy set [TYPE] POLICY</c>): a first word that is not an
    /// attestation type is left to that argument, so <c>policy set p.txt --type SgxEnclave</c> keeps working.
    /// </param>
    public AttestationTypeOption(bool beforeAnotherArgument = false)
    {
        Positional = new("TYPE")
        {
            Description = "Attestation type: SgxEnclave, OpenEnclave or TdxVm (or --type).",
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = result =>
            {
                if (result.Tokens.Count == 0)
                {
                    return null;
                }

                var word = result.Tokens[0].Value;
                if (beforeAnotherArgument && TryParse(word) is null)
                {
                    result.OnlyTake(0);
                    return null;
                }

                return word;
            },
        };
    }

    public Argument<string?> Positional { get; }

    public Option<string?> Named { get; } = new("--type") { Description = "Attestation type: SgxEnclave, OpenEnclave or TdxVm (same as TYPE)." };

    public void AddTo(Command command)
    {
        command.Arguments.Add(Positional);
        command.Options.Add(Named);
        command.Validators.Add(result =>
        {
            var positional = result.GetValue(Positional);
            var named = result.GetValue(Named);
            if (positional is null && named is null)
            {
                result.AddError("an attestation type is required: SgxEnclave, OpenEnclave or TdxVm");
            }
            else if (positional is not null && named is not null && !string.Equals(positional, named, StringComparison.OrdinalIgnoreCase))
            {
                result.AddError($"TYPE '{positional}' and --type '{named}' disagree");
            }
        });
    }

    public AttestationType Read(ParseResult parse) => Parse(parse.GetValue(Positional) ?? parse.GetValue(Named)!);

    public static AttestationType Parse(string text) =>
        TryParse(text) ?? throw new CliException($"attestation type '{text}' is not SgxEnclave, OpenEnclave or TdxVm");

    private static AttestationType? TryParse(string text) => text.ToUpperInvariant() switch
    {
        "SGXENCLAVE" => AttestationType.SgxEnclave,
        "OPENENCLAVE" => AttestationType.OpenEnclave,
        "TDXVM" => AttestationType.TdxVm,
        _ => null,
    };
}
