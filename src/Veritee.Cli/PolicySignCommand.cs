using System.CommandLine;
using Veritee.Policy;
using Veritee.Tokens;

namespace Veritee.Cli;

/// <summary><c>veritee policy sign</c>: the signed policy JWS an isolated-mode instance takes on <c>PUT /policies/{type}</c>.</summary>
internal static class PolicySignCommand
{
    internal static Command Create(CliIo io)
    {
        var file = new Argument<FileInfo>("POLICY") { Description = "Policy text file (UTF-8). It must parse; the exact text is embedded." };
        var signing = new SigningOptions();
        var command = new Command("sign", "Sign a policy: header {\"alg\":\"RS256\"|\"ES256\",\"x5c\":[cert]}, payload {\"AttestationPolicy\": base64url(text)} (GA) or the raw text (--preview, 2018 form). Exit 0 written, 2 input error.");
        command.Arguments.Add(file);
        signing.AddTo(command);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var path = parse.GetValue(file)!;
            var text = File.ReadAllText(path.FullName);
            var result = PolicyParser.Parse(text);
            if (result.Document is null)
            {
                PolicyCommands.WriteDiagnostics(io.Error, path.ToString(), text, result.Diagnostics);
                throw new CliException($"{path}: the policy has errors; not signed (run 'veritee policy check {path}')");
            }

            using var key = signing.Load(parse);
            var format = parse.GetValue(signing.Preview) ? PolicyPayloadFormat.Preview : PolicyPayloadFormat.Ga;
            signing.Write(io, parse, PolicyJws.CreateSigned(text, key, format), "signed policy JWS");
            return ExitCodes.Ok;
        }));
        return command;
    }
}

/// <summary>The signing key options shared by <c>policy sign</c> and <c>signer sign</c>.</summary>
internal sealed class SigningOptions
{
    public Option<FileInfo> Key { get; } = new("--key") { Description = "Signer private key: PEM (PKCS#8, encrypted PKCS#8, PKCS#1 RSA or SEC1 EC).", Required = true };

    public Option<FileInfo> Cert { get; } = new("--cert") { Description = "Signer certificate (PEM or DER) matching --key; it goes into the JWS header x5c.", Required = true };

    public Option<string?> Password { get; } = new("--password") { Description = "Password of an encrypted --key." };

    public Option<bool> Preview { get; } = new("--preview") { Description = "Produce the 2018-09-01-preview form instead of the GA (2020-10-01+) form." };

    public Option<FileInfo?> Out { get; } = VeriteeCommand.WritesFile(new Option<FileInfo?>("--out") { Description = "Write the JWS to this file instead of standard output." });

    public void AddTo(Command command)
    {
        command.Options.Add(Key);
        command.Options.Add(Cert);
        command.Options.Add(Password);
        command.Options.Add(Preview);
        command.Options.Add(Out);
    }

    public JwsSigningKey Load(ParseResult parse)
    {
        var keyFile = parse.GetValue(Key)!;
        var certFile = parse.GetValue(Cert)!;
        var keyPem = File.ReadAllText(keyFile.FullName);
        var certBytes = File.ReadAllBytes(certFile.FullName);
        try
        {
            return JwsSigningKey.Load(keyPem, certBytes, parse.GetValue(Password));
        }
        catch (TokenFormatException e)
        {
            throw new CliException($"{keyFile} / {certFile}: {e.Message}");
        }
    }

    public void Write(CliIo io, ParseResult parse, string jws, string what)
    {
        if (parse.GetValue(Out) is { } output)
        {
            File.WriteAllText(output.FullName, jws + "\n");
            io.Out.WriteLine($"wrote {output}: {what}");
        }
        else
        {
            io.Out.WriteLine(jws);
        }
    }
}
