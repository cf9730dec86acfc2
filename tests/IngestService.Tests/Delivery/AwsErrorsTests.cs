using System.Net;
using System.Text;
using IngestService.Aws;

namespace IngestService.Tests.Delivery;

public sealed class AwsErrorsTests
{
    [Theory]
    [InlineData("ServiceUnavailableException")]
    [InlineData("InternalFailure")]
    [InlineData("ProvisionedThroughputExceededException")]
    [InlineData("ThrottlingException")]
    [InlineData("LimitExceededException")]
    [InlineData("NetworkError")]
    public void Throttling_and_server_failures_are_retried(string code) => Assert.True(AwsErrors.IsRetryable(code, HttpStatusCode.BadRequest));

    [Theory]
    [InlineData("InvalidArgumentException")]
    [InlineData("ResourceNotFoundException")]
    [InlineData("AccessDeniedException")]
    [InlineData("AccessDenied")]
    [InlineData("InvalidSignatureException")]
    [InlineData("SignatureDoesNotMatch")]
    [InlineData("IncompleteSignature")]
    [InlineData("UnrecognizedClientException")]
    [InlineData("InvalidClientTokenId")]
    [InlineData("ValidationException")]
    public void Errors_the_same_request_always_gets_fail_fast(string code)
    {
        Assert.False(AwsErrors.IsRetryable(code, HttpStatusCode.BadRequest));
        Assert.False(AwsErrors.IsRetryable(code, HttpStatusCode.Forbidden));
        Assert.False(AwsErrors.IsRetryable(code, null));
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError, true)]
    [InlineData(HttpStatusCode.BadGateway, true)]
    [InlineData(HttpStatusCode.ServiceUnavailable, true)]
    [InlineData(HttpStatusCode.TooManyRequests, true)]
    [InlineData(HttpStatusCode.BadRequest, false)]
    [InlineData(HttpStatusCode.Forbidden, false)]
    [InlineData(HttpStatusCode.NotFound, false)]
    public void An_unknown_error_type_is_decided_by_its_status(HttpStatusCode status, bool retryable) =>
        Assert.Equal(retryable, AwsErrors.IsRetryable("SomethingNew", status));

    [Theory]
    [InlineData("com.amazonaws.kinesis.v20131202#ResourceNotFoundException", "ResourceNotFoundException")]
    [InlineData("ResourceNotFoundException:http://internal.amazon.com/coral/", "ResourceNotFoundException")]
    [InlineData("InvalidArgumentException", "InvalidArgumentException")]
    [InlineData(null, "Unknown")]
    public void Error_types_are_read_in_every_form_AWS_sends(string? type, string expected) => Assert.Equal(expected, AwsErrors.Normalize(type));

    [Fact]
    public void A_JSON_error_body_gives_its_type_and_message()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.BadRequest);

        var error = AwsJsonClient.ParseError(response, Encoding.UTF8.GetBytes("""{"__type":"aws#ResourceNotFoundException","message":"Stream x not found"}"""));

        Assert.Equal("ResourceNotFoundException", error.ErrorCode);
        Assert.Contains("Stream x not found", error.Message, StringComparison.Ordinal);
        Assert.False(error.IsRetryable);
    }

    [Fact]
    public void An_XML_signature_error_as_emulators_and_front_ends_send_it_fails_fast()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.Forbidden);

        var error = AwsJsonClient.ParseError(response, Encoding.UTF8.GetBytes(
            "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message></Error></Errors></ErrorResponse>"));

        Assert.Equal("SignatureDoesNotMatch", error.ErrorCode);
        Assert.False(error.IsRetryable);
    }

    [Fact]
    public void A_bodyless_server_error_is_retried()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.BadGateway);

        var error = AwsJsonClient.ParseError(response, []);

        Assert.True(error.IsRetryable);
    }
}
