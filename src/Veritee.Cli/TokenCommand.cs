using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Veritee.Tokens;

namespace Veritee.Cli;

/// <summary><c>veritee token show|verify</c>: read and validate MAA tokens.</summary>
internal static class TokenCommand
{
    private static readonly string[] TimeClaims = ["iat", "nbf", "exp"];

    public static Command Create(CliIo io)
    {
        var command = new Command("token", "Decode and validate Microsoft Azure Attestation tokens.");
        command.Subcommands.Add(CreateShow(io));
        command.Subcommands.Add(CreateVerify(io));
        return command;
    }

    private static Command CreateShow(CliIo io)
    {
        var jwt = new Argument<string>("JWT") { Description = "A file holding the token (or an MAA {\"token\": …} response body), or the token itself." };
        var command = new Command("show", "Print the decoded header and claims, and iat/nbf/exp in UTC. Nothing is verified. Exit 0 shown, 2 not a JWS.");
        command.Arguments.Add(jwt);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var jws = ParseJws(ReadToken(parse.GetValue(jwt)!));
            io.Out.WriteLine("header:");
            io.Out.WriteLine(Indent(Pretty(jws.Header)));
            JsonElement? claims = null;
            if (jws.Payload.Length == 0)
            {
                io.Out.WriteLine("payload: (empty)");
            }
            else
            {
                try
                {
                    claims = jws.PayloadJson();
                    io.Out.WriteLine("claims:");
                    io.Out.WriteLine(Indent(Pretty(claims.Value)));
                }
                catch (TokenFormatException)
                {
                    io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"payload: {jws.Payload.Length} bytes, not a JSON object"));
                }
            }

            if (claims is { } c && TimeClaims.Any(n => c.TryGetProperty(n, out _)))
            {
                io.Out.WriteLine("times (UTC):");
                foreach (var name in TimeClaims)
                {
                    if (c.TryGetProperty(name, out var value))
                    {
                        io.Out.WriteLine($"  {name}  {UtcTime(value)}");
                    }
                }
            }

            var alg = jws.Header.TryGetProperty("alg", out var a) ? a.ToString() : "(no alg)";
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"signature: {alg}, {jws.Signature.Length} bytes, not verified (use 'veritee token verify')"));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command CreateVerify(CliIo io)
    {
        var jwt = new Argument<string>("JWT") { Description = "A file holding the token (or an MAA {\"token\": …} response body), or the token itself." };
        var jwks = new Option<FileInfo?>("--jwks") { Description = "The instance's signing keys: a saved GET {instance}/certs body. Keys come only from here." };
        var issuer = new Option<string?>("--issuer") { Description = "The expected iss: the instance URI, e.g. https://sharedwus.wus.attest.azure.net." };
        var endpoint = new Option<string?>("--endpoint") { Description = "Instead of --jwks/--issuer: a live instance; keys from its /certs (fetched again once for an unknown kid), issuer and jku pinned to it." };
        var caCert = new Option<FileInfo?>("--ca-cert") { Description = "With --endpoint: a certificate trusted for the endpoint's TLS, in addition to the system store." };
        var instance = new Option<string?>("--instance") { Description = "Pinned instance URI; the header jku must be {instance}/certs (default: the --issuer value)." };
        var at = new Option<string?>("--at") { Description = "Validation time: unix seconds or ISO-8601 (default: now)." };
        var skew = new Option<int>("--skew") { Description = "Allowed clock skew for exp/nbf in seconds, 0–300 (default 10).", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {valid, reason, message, kid, issuer, validatedAt, claims}." };
        var command = new Command(
            "verify",
            "Validate a token against a pinned JWKS and issuer, failing closed: RS256 only, kid from the JWKS, jku pinned, exp/nbf. " +
            "Exit 0 valid, 1 invalid (the reason is named: Malformed, AlgorithmNotAllowed, JkuMismatch, UnknownKid, KeyNotUsable, " +
            "BadSignature, IssuerMismatch, MissingOrInvalidLifetime, Expired, NotYetValid), 2 input or connection error. " +
            "Give either --jwks and --issuer, or --endpoint URL.");
        command.Arguments.Add(jwt);
        command.Options.Add(jwks);
        command.Options.Add(issuer);
        command.Options.Add(instance);
        command.Options.Add(endpoint);
        command.Options.Add(caCert);
        command.Options.Add(at);
        command.Options.Add(skew);
        command.Options.Add(json);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var token = ReadToken(parse.GetValue(jwt)!);
            if (parse.GetValue(endpoint) is { } url)
            {
                var (viaEndpoint, pinnedIssuer) = TokenEndpointVerify.Validate(url, token, parse.GetValue(caCert), parse.GetValue(at), parse.GetValue(skew),
                    parse.GetValue(jwks) is not null || parse.GetValue(issuer) is not null || parse.GetValue(instance) is not null);
                return Report(io, viaEndpoint, pinnedIssuer, parse.GetValue(json));
            }

            var jwksFile = parse.GetValue(jwks) ?? throw new CliException("--jwks and --issuer (or --endpoint) are required");
            MaaSigningKeys keys;
            try
            {
                keys = MaaSigningKeys.Parse(File.ReadAllText(jwksFile.FullName));
            }
            catch (TokenFormatException e)
            {
                throw new CliException($"{jwksFile}: {e.Message}");
            }

            var seconds = parse.GetValue(skew);
            if (seconds is < 0 or > 300)
            {
                throw new CliException("--skew: must be between 0 and 300 seconds");
            }

            var iss = parse.GetValue(issuer) ?? throw new CliException("--issuer is required with --jwks");
            var pinned = parse.GetValue(instance) ?? iss;
            if (!Uri.TryCreate(pinned, UriKind.Absolute, out _))
            {
                throw new CliException($"--instance: '{pinned}' is not an absolute URI");
            }

            if (string.IsNullOrEmpty(iss))
            {
                throw new CliException("--issuer: must not be empty");
            }

            var time = CliTime.Parse(parse.GetValue(at), DateTimeOffset.UtcNow);
            var options = new MaaTokenValidationOptions
            {
                Issuer = iss,
                Instance = pinned,
                ClockSkew = TimeSpan.FromSeconds(seconds),
                TimeProvider = new FixedTime(time),
            };
            var result = new MaaTokenValidator(keys, options).Validate(token);
            return Report(io, result, iss, parse.GetValue(json));
        }));
        return command;
    }

    /// <summary>Prints a validation result (text or JSON) and returns the exit code.</summary>
    internal static int Report(CliIo io, MaaTokenValidationResult result, string iss, bool json)
    {
        if (json)
        {
            io.Out.WriteLine(ResultJson(result, iss));
        }
        else if (result.IsValid)
        {
            io.Out.WriteLine("valid");
            io.Out.WriteLine($"  issuer: {iss}");
            io.Out.WriteLine($"  kid: {result.Kid}");
            io.Out.WriteLine($"  validated at: {Utc(result.ValidatedAt)}");
            foreach (var name in TimeClaims)
            {
                if (result.Claims!.Value.TryGetProperty(name, out var value))
                {
                    io.Out.WriteLine($"  {name}: {UtcTime(value)}");
                }
            }
        }
        else
        {
            io.Out.WriteLine($"invalid: {result.Failure}: {result.Message}");
        }

        return result.IsValid ? ExitCodes.Ok : ExitCodes.Negative;
    }

    /// <summary>The token text from a file (raw, or an MAA <c>{"token": …}</c> body) or the argument itself.</summary>
    internal static string ReadToken(string argument)
    {
        string text;
        if (File.Exists(argument))
        {
            text = File.ReadAllText(argument).Trim();
        }
        else if (argument.TrimStart('"').StartsWith("ey", StringComparison.Ordinal) && argument.Count(c => c == '.') == 2)
        {
            // A compact JWS header is a JSON object, so its base64url starts with "ey".
            text = argument.Trim();
        }
        else
        {
            throw new CliException($"{argument}: no such file, and not a compact JWT");
        }

        if (text.StartsWith('{'))
        {
            try
            {
                using var body = JsonDocument.Parse(text);
                if (body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("token", out var token) && token.ValueKind == JsonValueKind.String)
                {
                    return token.GetString()!;
                }
            }
            catch (JsonException)
            {
            }

            throw new CliException("JWT: a JSON input must be an MAA response body {\"token\": \"…\"}");
        }

        return text;
    }

    private static CompactJws ParseJws(string token)
    {
        try
        {
            return CompactJws.Parse(token);
        }
        catch (TokenFormatException e)
        {
            throw new CliException("JWT: " + e.Message);
        }
    }

    private static string ResultJson(MaaTokenValidationResult result, string issuer)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteBoolean("valid", result.IsValid);
            if (result.IsValid)
            {
                w.WriteNull("reason");
            }
            else
            {
                w.WriteString("reason", result.Failure.ToString());
            }

            w.WriteString("message", result.Message);
            w.WriteString("kid", result.Kid);
            w.WriteString("issuer", issuer);
            w.WriteString("validatedAt", Utc(result.ValidatedAt));
            w.WritePropertyName("claims");
            if (result.Claims is { } claims)
            {
                claims.WriteTo(w);
            }
            else
            {
                w.WriteNullValue();
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string Pretty(JsonElement element)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            element.WriteTo(w);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string Indent(string text) => "  " + text.Replace("\n", "\n  ", StringComparison.Ordinal);

    private static string UtcTime(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var seconds) && seconds is >= -62135596800 and <= 253402300799
            ? string.Create(CultureInfo.InvariantCulture, $"{Utc(DateTimeOffset.FromUnixTimeSeconds(seconds))} ({seconds})")
            : $"{value.GetRawText()} (not unix seconds)";

    private static string Utc(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
