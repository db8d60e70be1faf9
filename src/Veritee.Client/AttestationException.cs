using System.Net;
using Veritee.Tokens;

namespace Veritee.Client;

/// <summary>
/// The service answered with an error: the HTTP status and, when the body is MAA's envelope
/// <c>{"error":{"code","message"}}</c>, its code and message.
/// </summary>
public sealed class AttestationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AttestationException(HttpStatusCode status, string? errorCode, string? serviceMessage, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Status = status;
        ErrorCode = errorCode;
        ServiceMessage = serviceMessage;
    }

    /// <summary>Creates an exception without status (use the other constructor).</summary>
    public AttestationException()
        : this(0, null, null, "the attestation service returned an error")
    {
    }

    /// <summary>Creates an exception without status (use the other constructor).</summary>
    public AttestationException(string message)
        : this(0, null, null, message)
    {
    }

    /// <summary>Creates an exception without status (use the other constructor).</summary>
    public AttestationException(string message, Exception innerException)
        : this(0, null, null, message, innerException)
    {
    }

    /// <summary>The HTTP status (0 when the answer was not an HTTP error, e.g. a malformed success body).</summary>
    public HttpStatusCode Status { get; }

    /// <summary>The MAA error code (<c>InvalidParameter</c>, <c>InvalidOperation</c>, <c>PolicyEvaluationError</c>, <c>Unauthorized</c>, …), or null.</summary>
    public string? ErrorCode { get; }

    /// <summary>The service's error message, or null.</summary>
    public string? ServiceMessage { get; }
}

/// <summary>
/// A token from the service did not pass validation (the client never returns such a token's claims). <see cref="Reason"/>
/// names the failure: a <see cref="MaaTokenFailure"/> name, or <c>PolicyTokenHashMismatch</c> / <c>UnexpectedContent</c>
/// for a valid token whose content contradicts the request.
/// </summary>
public sealed class AttestationTokenValidationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AttestationTokenValidationException(string reason, string message, MaaTokenValidationResult? result = null)
        : base(message)
    {
        Reason = reason;
        Result = result;
    }

    /// <summary>Creates the exception.</summary>
    public AttestationTokenValidationException()
        : this("Malformed", "the token is not valid")
    {
    }

    /// <summary>Creates the exception.</summary>
    public AttestationTokenValidationException(string message)
        : this("Malformed", message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public AttestationTokenValidationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = "Malformed";
    }

    /// <summary>The named reason (stable: used by the CLI and in logs).</summary>
    public string Reason { get; }

    /// <summary>The validator's result, when the validator ran.</summary>
    public MaaTokenValidationResult? Result { get; }
}
