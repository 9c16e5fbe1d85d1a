using System.Security.Claims;
using FeedbackLoop.Review.Accounts;
using FeedbackLoop.Review.Queue;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.Review.Hosting;

/// <summary>
/// The review app on an ASP.NET Core host: Razor Pages behind cookie sign-in (every page but the sign-in page needs a
/// reviewer), antiforgery on every form (Razor Pages refuses a POST without its token with 400), and headers that keep a
/// browser from running anything but the app's own script file.
/// </summary>
public static class ReviewApp
{
    /// <summary>The strict Content-Security-Policy on every response: no inline script or style, no framing, no foreign form targets.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public const string HealthPath = "/healthz";
    public const string ReviewerClaim = "reviewer";
    public const string TokenIdClaim = "token_id";

    public static IServiceCollection AddReviewApp(this IServiceCollection services, string dataRoot, ModelCatalog? models = null)
    {
        // Made by the container, so it is disposed with it (its DuckDB connections with it).
        services.AddSingleton(_ => new ReviewData(dataRoot));
        services.AddHostedService<ReviewIndexWarmup>();
        services.AddSingleton(models ?? new ModelCatalog(null, null));
        services.AddSingleton(ReviewerFile.Under(dataRoot));
        services.AddRazorPages(pages =>
        {
            pages.Conventions.AuthorizeFolder("/");
            pages.Conventions.AllowAnonymousToPage("/Login");
        }).AddApplicationPart(typeof(ReviewApp).Assembly);
        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(cookie =>
        {
            cookie.LoginPath = "/login";
            cookie.LogoutPath = "/logout";
            cookie.Cookie.Name = "feedbackloop-review";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Strict;
            cookie.ExpireTimeSpan = TimeSpan.FromHours(8);
            cookie.SlidingExpiration = true;
            // A removed reviewer (or one given a new token) is signed out on the next request, not when the cookie expires.
            cookie.Events.OnValidatePrincipal = context =>
            {
                var reviewers = context.HttpContext.RequestServices.GetRequiredService<ReviewerFile>();
                var principal = context.Principal;
                if (principal?.FindFirstValue(ReviewerClaim) is not { } name || principal.FindFirstValue(TokenIdClaim) is not { } tokenId || !reviewers.StillHas(name, tokenId))
                {
                    context.RejectPrincipal();
                }
                return Task.CompletedTask;
            };
        });
        services.AddAuthorization();
        services.AddAntiforgery(antiforgery =>
        {
            antiforgery.Cookie.Name = "feedbackloop-review-antiforgery";
            antiforgery.Cookie.SameSite = SameSiteMode.Strict;
        });
        services.Configure<KestrelServerOptions>(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 1024 * 1024;
        });
        return services;
    }

    public static WebApplication MapReviewApp(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            await next(context).ConfigureAwait(false);
        });
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet(HealthPath, () => Results.Text("alive\n"));
        app.MapGet("/assets/{name}", (string name) => ReviewAssets.Serve(name));
        app.MapRazorPages();
        return app;
    }
}

/// <summary>The app's two static files, embedded in the assembly: nothing on disk to serve by mistake.</summary>
public static class ReviewAssets
{
    public const string Script = "review.js";
    public const string Styles = "review.css";

    public static IResult Serve(string name)
    {
        if (name is not (Script or Styles)) return Results.NotFound();
        using var stream = typeof(ReviewAssets).Assembly.GetManifestResourceStream("review-assets/" + name)
            ?? throw new InvalidOperationException($"the asset {name} is not embedded");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return Results.Bytes(memory.ToArray(), name == Script ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
    }
}
