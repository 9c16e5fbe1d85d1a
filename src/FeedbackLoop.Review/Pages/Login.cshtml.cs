using System.Security.Claims;
using FeedbackLoop.Review.Accounts;
using FeedbackLoop.Review.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace FeedbackLoop.Review.Pages;

/// <summary>Sign-in with a reviewer's name and token; a wrong pair says only that it does not match (not which half).</summary>
public sealed class LoginModel(ReviewerFile reviewers) : PageModel
{
    public bool Refused { get; private set; }

    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    public async Task<IActionResult> OnPostAsync(string? name, string? token)
    {
        if (reviewers.SignIn(name, token) is not { } reviewer)
        {
            Refused = true;
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, reviewer.Name), new Claim(ReviewApp.ReviewerClaim, reviewer.Name), new Claim(ReviewApp.TokenIdClaim, reviewer.TokenId)],
            CookieAuthenticationDefaults.AuthenticationScheme);
        await HttpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity)).ConfigureAwait(false);
        return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl! : "/");
    }
}
