using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>
/// A generic webhook: the event document as it is, signed two ways when a secret is set, so that receivers built
/// for either convention verify it: Standard Webhooks (<c>webhook-id</c>, <c>webhook-timestamp</c>,
/// <c>webhook-signature: v1,&lt;base64 HMAC-SHA256 of "id.timestamp.body"&gt;</c>) and GitHub's
/// <c>X-Hub-Signature-256: sha256=&lt;hex HMAC-SHA256 of the body&gt;</c>. A <c>whsec_</c> secret is base64 after
/// its prefix (Standard Webhooks); any other is used as its UTF-8 bytes.
/// </summary>
public sealed class WebhookChannel(AlertChannelOptions options, HttpClient http, string secret, TimeProvider time) : HttpAlertChannel(options, http, RateLimit.None)
{
    private readonly byte[] _key = Key(secret);

    public static byte[] Key(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return secret.StartsWith("whsec_", StringComparison.Ordinal) ? Convert.FromBase64String(secret["whsec_".Length..]) : Encoding.UTF8.GetBytes(secret);
    }

    /// <summary>The Standard Webhooks signature header's value.</summary>
    public static string StandardSignature(byte[] key, string id, long timestamp, byte[] body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var prefix = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{id}.{timestamp}."));
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed, prefix.Length);
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
    }

    /// <summary>The X-Hub-Signature-256 header's value.</summary>
    public static string HubSignature(byte[] key, byte[] body) => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(key, body));

    protected override HttpRequestMessage Request(AlertMessage message)
    {
        var request = PostJson(Options.Url, message.Json);
        request.Headers.Add("webhook-id", message.Id);
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        if (_key.Length > 0)
        {
            request.Headers.Add("webhook-signature", StandardSignature(_key, message.Id, timestamp, message.Json));
            request.Headers.Add("X-Hub-Signature-256", HubSignature(_key, message.Json));
        }

        return request;
    }
}
