AUTHOR = "Mira Holm"
SITENAME = "Garden Notes"
SITEURL = "https://garden.example.org"
PATH = "content"
TIMEZONE = "Europe/Oslo"
DEFAULT_LANG = "en"
STATIC_PATHS = ["images"]
ARTICLE_URL = "{date:%Y}/{slug}.html"
