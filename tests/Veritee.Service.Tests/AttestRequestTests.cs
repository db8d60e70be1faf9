using System.Net;
using System.Text;
using B64 = System.Buffers.Text.Base64Url;

namespace Veritee.Service.Tests;

/// <summary>
/// The attestation request body as MAA clients send it: names matched case-insensitively and never twice, base64url
/// with or without padding or standard base64, JSON escapes anywhere, and every malformed body a 400 InvalidParameter.
/// </summary>
public sealed class AttestRequestTests
{
    private static readonly byte[] Quote = File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"));
    private static readonly byte[] Ehd = Encoding.UTF8.GetBytes("{\"jwk\":{\"kty\":\"RSA\"}}");

    private static AttestRequest Parse(string body, string type = "SgxEnclave") => AttestRequest.Parse(Encoding.UTF8.GetBytes(body), type);

    private static MaaException Refused(string body, string type = "SgxEnclave")
    {
        var e = Assert.Throws<MaaException>(() => Parse(body, type));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Equal(MaaErrorCodes.InvalidParameter, e.Code);
        return e;
    }

    [Fact]
    public void A_full_request_gives_every_field()
    {
        var request = Parse($$$"""
            {"quote":"{{{B64.EncodeToString(Quote)}}}",
             "runtimeData":{"data":"{{{B64.EncodeToString(Ehd)}}}","dataType":"JSON"},
             "initTimeData":{"data":"AQID","dataType":"Binary"},
             "draftPolicyForAttestation":"version=1.0;",
             "nonce":"n-1",
             "someFutureField":{"nested":[1,2,{"deep":true}]}}
            """);
        Assert.Equal(Quote, request.Evidence);
        Assert.Equal(Ehd, request.RuntimeData);
        Assert.True(request.RuntimeDataIsJson);
        Assert.Equal([1, 2, 3], request.InitTimeData);
        Assert.False(request.InitTimeDataIsJson);
        Assert.Equal("version=1.0;", request.DraftPolicy);
        Assert.Equal("n-1", request.Nonce);
    }

    [Fact]
    public void Names_are_case_insensitive_and_escapes_are_read()
    {
        // "\u0071uote" is "quote"; the value's first characters escaped as well.
        var encoded = B64.EncodeToString(Quote);
        var escaped = "\\u00" + ((int)encoded[0]).ToString("x2", System.Globalization.CultureInfo.InvariantCulture) + encoded[1..];
        var request = Parse($$$"""{"\u0071UOTE":"{{{escaped}}}","RUNTIMEDATA":{"DATA":"AQID","DATATYPE":"binary"}}""");
        Assert.Equal(Quote, request.Evidence);
        Assert.Equal([1, 2, 3], request.RuntimeData);
        Assert.False(request.RuntimeDataIsJson);
    }

    [Theory]
    [InlineData("AQID")]
    [InlineData("AQI=")]
    [InlineData("AQI")]
    [InlineData("+/8=")]
    [InlineData("-_8")]
    [InlineData(" AQID ")]
    public void Base64url_with_or_without_padding_and_standard_base64_are_read(string data)
    {
        var request = Parse($$$"""{"quote":"{{{B64.EncodeToString(Quote)}}}","runtimeData":{"data":"{{{data}}}"}}""");
        Assert.Equal(Convert.FromBase64String(data.Trim().Replace('-', '+').Replace('_', '/').PadRight(4, '=')), request.RuntimeData);
    }

    [Fact]
    public void Absent_and_null_fields_are_the_same()
    {
        var request = Parse($$$"""{"quote":"{{{B64.EncodeToString(Quote)}}}","runtimeData":null,"initTimeData":null,"nonce":null,"draftPolicyForAttestation":null}""");
        Assert.Null(request.RuntimeData);
        Assert.Null(request.InitTimeData);
        Assert.Null(request.Nonce);
        Assert.Null(request.DraftPolicy);
        Assert.Contains("has no \"report\"", Refused("""{"quote":"AQID","report":null}""", "OpenEnclave").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"quote":"AQID","Quote":"AQID"}""", "\"quote\" appears more than once")]
    [InlineData("""{"quote":"AQID","\u0051uote":"AQID"}""", "\"quote\" appears more than once")]
    [InlineData("""{"quote":"AQID","other":1,"OTHER":2}""", "\"OTHER\" appears more than once")]
    [InlineData("""{"quote":"AQID","runtimeData":{"data":"AQID","Data":"AQID"}}""", "\"data\" appears more than once")]
    [InlineData("""{"quote":5}""", "\"quote\" must be a string")]
    [InlineData("""{"quote":"AQID","nonce":7}""", "\"nonce\" must be a string")]
    [InlineData("""{"quote":"AQID","runtimeData":"AQID"}""", "\"runtimeData\" must be an object")]
    [InlineData("""{"quote":"AQID","runtimeData":{"data":5}}""", "\"runtimeData.data\" must be a string")]
    [InlineData("""{"quote":"AQID","runtimeData":{"dataType":"Binary"}}""", "runtimeData has no \"data\"")]
    [InlineData("""{"quote":"AQID","initTimeData":{"data":"AQID","dataType":"Xml"}}""", "initTimeData.dataType \"Xml\" is not Binary or JSON")]
    [InlineData("""{"quote":"***"}""", "quote is not valid base64url")]
    [InlineData("""{"nonce":"x"}""", "the request has no \"quote\"")]
    [InlineData("""[]""", "must be a JSON object")]
    [InlineData("""5""", "must be a JSON object")]
    [InlineData("""{"quote":"AQID"} {}""", "not valid JSON")]
    [InlineData("""{"quote":"AQID",}""", "not valid JSON")]
    [InlineData("""{"quote":"AQID" """, "not valid JSON")]
    [InlineData("", "not valid JSON")]
    [InlineData("not json", "not valid JSON")]
    public void Malformed_requests_say_what_is_wrong(string body, string expected)
    {
        Assert.Contains(expected, Refused(body).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nesting_past_the_depth_limit_is_refused_even_in_an_unknown_field()
    {
        var deep = new string('[', 65) + new string(']', 65);
        Assert.Contains("not valid JSON", Refused("{\"quote\":\"AQID\",\"x\":" + deep + "}").Message, StringComparison.Ordinal);
        Assert.Equal([1, 2, 3], Parse("{\"quote\":\"AQID\",\"x\":" + new string('[', 60) + new string(']', 60) + "}").Evidence);
    }

    [Fact]
    public void Invalid_UTF8_in_a_string_is_refused()
    {
        var body = Encoding.UTF8.GetBytes("{\"quote\":\"AQID\",\"nonce\":\"ab\"}");
        body[^4] = 0xFF;
        var e = Assert.Throws<MaaException>(() => AttestRequest.Parse(body, "SgxEnclave"));
        Assert.Equal(MaaErrorCodes.InvalidParameter, e.Code);
    }

    [Fact]
    public void Many_distinct_unknown_names_cost_linear_work()
    {
        // 200,000 names in a body under the 2 MiB limit: a quadratic duplicate check would take minutes.
        var body = new StringBuilder("{\"quote\":\"AQID\"");
        for (var i = 0; i < 200_000; i++)
        {
            body.Append(",\"n").Append(i).Append("\":0");
        }

        var request = Parse(body.Append('}').ToString());
        Assert.Equal([1, 2, 3], request.Evidence);
    }

    [Fact]
    public void Every_truncation_and_bit_flip_of_a_request_is_a_request_or_a_400()
    {
        var body = Encoding.UTF8.GetBytes($$$"""{"quote":"{{{B64.EncodeToString(Quote[..64])}}}","runtimeData":{"data":"AQID","dataType":"Binary"},"nonce":"x"}""");
        for (var length = 0; length < body.Length; length++)
        {
            AssertRequestOrRefusal(body[..length]);
        }

        for (var bit = 0; bit < body.Length * 8; bit++)
        {
            var flipped = (byte[])body.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            AssertRequestOrRefusal(flipped);
        }

        static void AssertRequestOrRefusal(byte[] bytes)
        {
            try
            {
                Assert.NotNull(AttestRequest.Parse(bytes, "SgxEnclave").Evidence);
            }
            catch (MaaException e)
            {
                Assert.Equal(MaaErrorCodes.InvalidParameter, e.Code);
            }
        }
    }
}
