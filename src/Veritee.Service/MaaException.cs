using System.Net;
using System.Text.Json.Nodes;

namespace Veritee.Service;

/// <summary>MAA error codes the service returns (the <c>error.code</c> of the envelope).</summary>
public static class MaaErrorCodes
{
    /// <summary>A request parameter or the evidence is invalid.</summary>
    public const string InvalidParameter = "InvalidParameter";

    /// <summary>The operation is not allowed on this instance.</summary>
    public const string InvalidOperation = "InvalidOperation";

    /// <summary>The policy does not parse.</summary>
    public const string PolicyParsingError = "PolicyParsingError";

    /// <summary>The policy denied the evidence.</summary>
    public const string PolicyEvaluationError = "PolicyEvaluationError";

    /// <summary>The caller is not authorized.</summary>
    public const string Unauthorized = "Unauthorized";

    /// <summary>Unknown path or attestation type.</summary>
    public const string NotFound = "NotFound";

    /// <summary>The request body is larger than the service accepts.</summary>
    public const string RequestTooLarge = "RequestEntityTooLarge";

    /// <summary>The store or another dependency is unavailable.</summary>
    public const string ServiceUnavailable = "ServiceUnavailable";

    /// <summary>The client sent more requests than its rate allows, or the node is at its concurrency limit (429, with Retry-After).</summary>
    public const string TooManyRequests = "TooManyRequests";

    /// <summary>The request took longer than the service allows (503).</summary>
    public const string RequestTimeout = "RequestTimeout";

    /// <summary>An unexpected failure inside the service.</summary>
    public const string InternalError = "InternalServerError";
}

/// <summary>A failure reported to the client in MAA's error envelope.</summary>
public sealed class MaaException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MaaException(HttpStatusCode status, string code, string message)
        : base(message)
    {
        Status = status;
        Code = code;
    }

    /// <summary>Creates a 400 InvalidParameter exception.</summary>
    public MaaException()
        : this(HttpStatusCode.BadRequest, MaaErrorCodes.InvalidParameter, "invalid request")
    {
    }

    /// <summary>Creates a 400 InvalidParameter exception with a message.</summary>
    public MaaException(string message)
        : this(HttpStatusCode.BadRequest, MaaErrorCodes.InvalidParameter, message)
    {
    }

    /// <summary>Creates a 400 InvalidParameter exception with a message and cause.</summary>
    public MaaException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = HttpStatusCode.BadRequest;
        Code = MaaErrorCodes.InvalidParameter;
    }

    /// <summary>HTTP status.</summary>
    public HttpStatusCode Status { get; }

    /// <summary>MAA error code.</summary>
    public string Code { get; }

    /// <summary>Seconds for the <c>Retry-After</c> header of the answer, when a retry time is known.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>400 with <paramref name="code"/>.</summary>
    public static MaaException BadRequest(string code, string message) => new(HttpStatusCode.BadRequest, code, message);

    /// <summary>The JSON envelope <c>{"error":{"code","message","innererror":{"code","message"}}}</c>.</summary>
    public static JsonObject Envelope(string code, string message) => new()
    {
        ["error"] = new JsonObject
        {
            ["code"] = code,
            ["message"] = message,
            ["innererror"] = new JsonObject { ["code"] = code, ["message"] = message },
        },
    };
}
