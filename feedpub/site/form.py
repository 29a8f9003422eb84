"""The sign-up form: the HTML snippet ``feedpub subscribe-form`` prints for any page, and the
box the packaged pages show when ``[web] url`` is set, both from one template
(``_signup_form.html``, which a site may override like any other).

The form is a plain HTML form posting to the web app's ``subscribe`` path: it works without
script and from a page of any origin (the static site is rarely served by the web app), which
is why it carries no CSRF token. None is needed: a sign-up only ever leads to a confirmation
email, and nothing changes until the address's owner follows the link in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from feedpub.config import CONFIG_NAME, Site
from feedpub.errors import ConfigError, Problem, TemplateError
from feedpub.templating import environment, template_problem

TEMPLATE = "_signup_form.html"
# The fields the web app's POST /subscribe reads (feedpub.delivery.signup).
EMAIL, NAME, TOPICS = "email", "name", "topics"
# The field no person sees or fills in; a post with it filled in is a program's.
HONEYPOT = "website"
# What the web app accepts (feedpub.delivery.signup): the browser stops typing beyond.
MAX_EMAIL = 320
MAX_NAME = 100
NO_NEWSLETTER = (
    "there is no [newsletter] section in feedpub.toml, so there is nothing to sign up to; "
    "add one (the README's 'The newsletter' shows how)"
)


@dataclass(frozen=True)
class SignupForm:
    """What the form shows: where it posts, and the topics a reader may choose."""

    action: str  # the web app's subscribe path, absolute: the form is on other origins
    newsletter: str
    topics: tuple[str, ...]
    honeypot: str = HONEYPOT
    max_email: int = MAX_EMAIL
    max_name: int = MAX_NAME


def signup_form(site: Site) -> SignupForm:
    """The form of ``site``'s newsletter, posting to ``site.web_url``; ConfigError without a
    newsletter."""
    if not site.has_newsletter:
        raise ConfigError([Problem(CONFIG_NAME, 0, "error", NO_NEWSLETTER)])
    return SignupForm(
        action=site.web_url + "subscribe",
        newsletter=site.newsletter_name,
        topics=tuple(topic.name for topic in site.newsletter.topics),
    )


def page_form(site: Site) -> SignupForm | None:
    """The box of the packaged pages: only once ``[web] url`` says where the web app runs
    (without it the web app may not run at all, and a form posting nowhere loses readers)."""
    if not site.has_newsletter or not site.web.url:
        return None
    return signup_form(site)


def snippet(site: Site) -> str:
    """The form as an HTML fragment to paste into any page (UTF-8, no script, no style)."""
    form = signup_form(site)
    try:
        return environment(site).get_template(TEMPLATE).render(signup=form)
    except TemplateError:
        raise
    except Exception as exc:  # a site's own template's error: its file and line
        raise TemplateError(template_problem(exc, site, TEMPLATE)) from None
