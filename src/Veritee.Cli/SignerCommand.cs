using System.CommandLine;
using Veritee.Tokens;

namespace Veritee.Cli;

/// <summary><c>veritee signer sign</c>: the policy-signer certificate JWS for <c>POST /certificates:add</c> and <c>:remove</c>.</summary>
internal static class SignerCommand
{
    public static Command Create(CliIo io)
    {
        var command = new Command("signer", "Isolated-mode policy signer certificates: sign the add/remove JWS, or list, add and remove them at an endpoint.");
        command.Subcommands.Add(CreateSign(io));
        SignerAdminCommands.AddTo(command, io);
        return command;
    }

    private static Command CreateSign(CliIo io)
    {
        var target = new Argument<FileInfo>("CERT") { Description = "The certificate to add or remove (PEM or DER)." };
        var signing = new SigningOptions();
        var command = new Command("sign", "Make the JWS naming CERT, signed by a current policy signer: payload {\"policyCertificate\": {\"alg\",\"kty\",\"use\",\"x5c\"}} (--preview: \"maa-policyCertificate\"). Exit 0 written, 2 input error.");
        command.Arguments.Add(target);
        signing.AddTo(command);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var path = parse.GetValue(target)!;
            System.Security.Cryptography.X509Certificates.X509Certificate2 certificate;
            try
            {
                certificate = JwsSigningKey.LoadCertificate(File.ReadAllBytes(path.FullName));
            }
            catch (TokenFormatException e)
            {
                throw new CliException($"{path}: {e.Message}");
            }

            using (certificate)
            using (var key = signing.Load(parse))
            {
                var jws = PolicyCertificateJws.Create(certificate, key, parse.GetValue(signing.Preview));
                signing.Write(io, parse, jws, $"signed policy-certificate JWS for {certificate.Subject} (SHA-1 {certificate.Thumbprint})");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}
