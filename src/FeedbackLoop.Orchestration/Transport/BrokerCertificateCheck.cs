using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace FeedbackLoop.Orchestration.Transport;

/// <summary>
/// Decides whether the broker's TLS certificate is trusted. Without a CA file the platform's own check decides (the
/// system's roots, the host name, revocation as the platform does it), and any error it reports refuses the
/// connection. With a CA file the certificate must name the host and chain to one of the file's certificates alone
/// (the system's roots do not count: a private broker is vouched for by its private CA).
/// </summary>
/// <remarks>
/// Set as the connection's validation callback, so what MassTransit or RabbitMQ.Client would accept by default never
/// matters; there is deliberately no setting that accepts a certificate this check refuses.
/// </remarks>
internal sealed class BrokerCertificateCheck(X509Certificate2Collection? authorities)
{
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }

        if (authorities is null)
        {
            return errors == SslPolicyErrors.None;
        }

        // Only a chain error may be the platform not knowing the private CA; a wrong name or no certificate never passes.
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(authorities);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            // Intermediates the broker sent along.
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return custom.Build(leaf);
    }
}
