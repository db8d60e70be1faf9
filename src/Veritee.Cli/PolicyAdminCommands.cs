using System.CommandLine;
using Veritee.Policy;
using Veritee.Tokens;

namespace Veritee.Cli;

/// <summary><c>veritee policy get|set|reset</c> against an endpoint (the administration client).</summary>
internal static class PolicyAdminCommands
{
    /// <summary>Adds get, set and reset under <paramref name="policy"/>.</summary>
    public static void AddTo(Command policy, CliIo io)
    {
        policy.Subcommands.Add(CreateGet(io));
        policy.Subcommands.Add(CreateSet(io));
        policy.Subcommands.Add(CreateReset(io));
    }

    private static Command CreateGet(CliIo io)
    {
        var endpoint = new EndpointOptions(admin: true);
        var type = new AttestationTypeOption();
        var jws = new Option<bool>("--jws") { Description = "Print the stored policy JWS instead of the policy text." };
        var command = new Command("get", "Print the policy of an attestation type (GET /policies/{type}). Exit 0 printed, 1 refused or invalid answer, 2 input, usage or connection error.");
        endpoint.AddTo(command);
        type.AddTo(command);
        command.Options.Add(jws);
        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            var attestationType = type.Read(parse);
            using var admin = endpoint.CreateAdmin(parse);
            var policy = (await admin.GetPolicyAsync(attestationType, cancellationToken).ConfigureAwait(false)).Value;
            if (parse.GetValue(jws))
            {
                io.Out.WriteLine(policy.Jws);
            }
            else
            {
                io.Out.WriteLine(policy.Text);
                io.Error.WriteLine(policy.Signer is { } signer ? $"signed by {signer.Subject} (SHA-1 {signer.Thumbprint})" : "unsigned");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command CreateSet(CliIo io)
    {
        var file = new Argument<FileInfo>("POLICY") { Description = "Policy text file (UTF-8). It must parse; the exact text is sent." };
        var endpoint = new EndpointOptions(admin: true);
        var type = new AttestationTypeOption(beforeAnotherArgument: true);
        var signing = new OptionalSigner();
        var command = new Command("set", "Set the policy of an attestation type (PUT /policies/{type}): unsigned, or signed with --key/--cert (isolated instances require it). Exit 0 set, 1 refused or invalid answer, 2 input, usage or connection error.");
        type.AddTo(command);
        command.Arguments.Add(file);
        endpoint.AddTo(command);
        signing.AddTo(command);
        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            var attestationType = type.Read(parse);
            var path = parse.GetValue(file)!;
            var text = File.ReadAllText(path.FullName);
            var parsed = PolicyParser.Parse(text);
            if (parsed.Document is null)
            {
                PolicyCommands.WriteDiagnostics(io.Error, path.ToString(), text, parsed.Diagnostics);
                throw new CliException($"{path}: the policy has errors; not sent (run 'veritee policy check {path}')");
            }

            using var key = signing.Load(parse);
            using var admin = endpoint.CreateAdmin(parse);
            var result = (await admin.SetPolicyAsync(attestationType, text, key, cancellationToken).ConfigureAwait(false)).Value;
            io.Out.WriteLine($"{attestationType} policy {result.Result}; x-ms-policy-token-hash {result.PolicyTokenHash} (matches the JWS sent)" +
                (result.PolicySigner is { } signer ? $"; signer {signer.Subject}" : "; unsigned"));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command CreateReset(CliIo io)
    {
        var endpoint = new EndpointOptions(admin: true);
        var type = new AttestationTypeOption();
        var signing = new OptionalSigner();
        var command = new Command("reset", "Remove the stored policy of an attestation type so the default applies (POST /policies/{type}:reset). Exit 0 reset, 1 refused or invalid answer, 2 input, usage or connection error.");
        endpoint.AddTo(command);
        type.AddTo(command);
        signing.AddTo(command);
        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            var attestationType = type.Read(parse);
            using var key = signing.Load(parse);
            using var admin = endpoint.CreateAdmin(parse);
            var result = (await admin.ResetPolicyAsync(attestationType, key, cancellationToken).ConfigureAwait(false)).Value;
            io.Out.WriteLine($"{attestationType} policy {result.Result}; the default policy applies");
            return ExitCodes.Ok;
        }));
        return command;
    }
}

/// <summary>--key/--cert/--password when signing is optional (policy set and reset).</summary>
internal sealed class OptionalSigner
{
    public Option<FileInfo?> Key { get; } = new("--key") { Description = "Sign with this private key (PEM); needs --cert." };

    public Option<FileInfo?> Cert { get; } = new("--cert") { Description = "Signer certificate (PEM or DER) matching --key; it goes into the JWS header x5c." };

    public Option<string?> Password { get; } = new("--password") { Description = "Password of an encrypted --key." };

    public void AddTo(Command command)
    {
        command.Options.Add(Key);
        command.Options.Add(Cert);
        command.Options.Add(Password);
    }

    /// <summary>The signing key, or null when neither --key nor --cert is given.</summary>
    public JwsSigningKey? Load(ParseResult parse)
    {
        var keyFile = parse.GetValue(Key);
        var certFile = parse.GetValue(Cert);
        if (keyFile is null && certFile is null)
        {
            return parse.GetValue(Password) is null ? null : throw new CliException("--password: only meaningful with --key and --cert");
        }

        if (keyFile is null || certFile is null)
        {
            throw new CliException("--key and --cert go together");
        }

        try
        {
            return JwsSigningKey.Load(File.ReadAllText(keyFile.FullName), File.ReadAllBytes(certFile.FullName), parse.GetValue(Password));
        }
        catch (TokenFormatException e)
        {
            throw new CliException($"{keyFile} / {certFile}: {e.Message}");
        }
    }
}
