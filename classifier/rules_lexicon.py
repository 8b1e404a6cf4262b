r"""Dutch word lists, phrase patterns and data formats for `classifier.rules`.

Word lists and phrases are matched against the rules' normalised text (lower case, no
diacritics, leetspeak undone, spaced-out letters joined); the personal-data formats at the end
against the original text, where capitals matter. Patterns are plain strings so that the rules
compile them once. Gaps between words are bounded (`(?:\S+\s+){0,3}?`: disjoint classes, a fixed
number of words), so no input makes them backtrack.
"""

from __future__ import annotations


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of text (word lists read better as text)."""
    return frozenset(text.split())


# -- insult ---------------------------------------------------------------------------------
# Nouns that are abuse whatever the sentence: aimed at someone in practice.
INSULT_STRONG = word_set("""
    hoer hoeren trut trutten kutwijf kutwijven klootzak klootzakken kankerlijer kankerlijers tyfuslijer
    tyfuslijers teringlijer teringlijers slet sletten teef teven bitch bitches kreng krengen hufter hufters
    etterbak etterbakken mongool mongol sukkel sukkels lapzwans lapzwansen loser losers
    lulhannes zeikwijf rotwijf kuttenkop klojo zakkenwasser oetlul mafkees engerd viezerik smeerlap schoft
    schoften slijmbal kontlikker leeghoofd leeghoofden nietsnut nietsnutten klaploper lafbek sloerie flapdrol
    zeikerd lelijkerd vetzak vetklep dikzak randdebiel kakmadam frustra feeks kwezel tokkie tokkies
    gladjanus sufferd pedo zuipschuit stomkop domkop dombo trien slons snoeshaan tuttebel zeurkous
    kutvent kutzak klerelijer hoerenjong lijer lijers
""")
# Words that are abuse only in an insulting frame ("X is een ...", "vuile ...", "... van een X"):
# animals, objects and adjectives that are harmless elsewhere ("een koe op de boerderij").
INSULT_WEAK = word_set("""
    lul eikel eikels debiel debielen idioot idioten heks heksen kwal kwallen kneus aap apen rat ratten
    varken varkens koe koeien kip kippen gans ezel muts tang kakkerlak zwerver dief dieven leugenaar
    leugenaars leugenaarster lafaard lafaards watje gek gekken psychopaat gestoorde wijf wijven wief wicht
    kwast drol junkie oplichter bedrieger clown nul prutser stumper bemoeial zak zakken tuig barbie walrus
    garnaal sloddervos snol griet mislukkeling klungel ja-knikker ja-knikkers hond honden zwijn
""")
# "kanker", "kk", "tering" ... prefixed to a person noun make abuse; to anything else profanity.
CURSE_PREFIXES = ("kanker", "kenker", "kkr", "kk", "tyfus", "tiefus", "tering", "kut", "klote", "kolere",
                  "pleuris", "kler", "klere", "hoeren", "rot")
PERSON_TAILS = word_set("""
    lijer lijers lijder lijders wijf wijven hoer hoeren juf juffen meester meesters leraar leraren lerares
    directeur directrice joch jong kind kinderen vent kerel gast mongool mongol debiel lul kop kneus muts zak
    hond honden aap apen slet teef trut gek idioot boer tokkie moeder vader invaller mens man zwerver
    conciërge concierge stagiair stagiaire bestuurder kop koppen
""")
# Tokens ending in these are abuse compounds ("terroristenwijf", "tyfushoer", "taliban-trut").
INSULT_SUFFIXES = ("wijf", "wijven", "hoer", "hoeren", "lijer", "lijers", "trut", "slet", "teef", "klootzak")
# Adjectives that turn a weak noun into abuse.
INSULT_ADJ = word_set("""
    vuile vuil vieze vies smerige smerig gore domme achterlijke achterlijk lelijke dikke vette zielige stomme
    kale ouwe verwaande arrogante incompetente laffe valse luie gestoorde walgelijke waardeloze hersenloze
    hersendode gluiperige schijnheilige leugenachtige zure agressieve asociale aso slappe nichterige
    verbitterde irritante bemoeizuchtige hypocriete pedante lachwekkende stinkende gemene lamlendige
    kinderhatende mislukte kruiperige kanker kk kkr tering tyfus klote kut vuilste grootste domste
    lelijkste dom stom lelijk dik vet gestoord zielig hysterische
""")
# Words that make a person the subject or addressee of a clause.
PERSON_WORDS = word_set("""
    juf juffrouw meester meneer mevrouw directeur directrice leraar lerares leerkracht docent conciërge
    concierge ib'er ib-er invaller invalmeester invaljuf stagiair stagiaire adjunct bestuurder voorzitter
    penningmeester wethouder inspecteur pleinwacht klassenouder moeder vader ouder man vrouw vent gast
    kerel jongen meisje joch hij zij ze hem haar jij je jou u jullie juffen meesters leraren
""")
# Person words that refer to several people: a plural slur next to them is group abuse (discrimination).
PLURAL_PERSONS = word_set("juffen meesters leraren jullie ze zij ouders moeders vaders")
# Groups named by sex or age: a threat against "die meisjes" is not a threat for being a girl.
GENERIC_GROUPS = word_set("meisjes meiden mannen vrouwen jongens")
PERSON_SUFFIXES = ("juf", "meester", "leraar", "lerares", "moeder", "vader", "directeur", "directrice")
# The frame around an insult: "X is een vuile ...", "wat een ...", "ik voel me een ..." (about oneself).
DETERMINERS = word_set("een die dat zo'n zon wat jij je u jullie dit deze")
COPULAS = word_set("is ben bent zijn was waren blijft blijf lijkt lijken wordt word")
VOCATIVE_DET = (None, "wat", "zo'n", "zon", "die", "dat", "jij", "je")
SELF = word_set("zich me mezelf voel voelt voelde voelen")
FILLERS = word_set("""
    echt gewoon zo heel erg enorm enorme ongelofelijk ongelofelijke complete absolute totale regelrechte echte
    grootste de nog steeds altijd toch
""")

# -- discrimination -------------------------------------------------------------------------
GROUP_SLURS = word_set("""
    neger negers negerin nikker nikkers makak makakken geitenneuker geitenneukers poepchinees poepchinezen
    spleetoog spleetogen flikker flikkers zandneger zandnegers bosneger bosnegers kutmarokkaan
    kutmarokkanen jodenstreken downie downies spast spasten kaaskop kaaskoppen zwartjoekel zwartjoekels
    roetmop roetmoppen
""")
# Group terms (plural or collective); stems also match as compound heads ("moslimkinderen").
GROUP_TERMS = word_set("""
    moslims moslim islamieten joden jood marokkanen turken polen syriers afrikanen buitenlanders
    allochtonen asielzoekers vluchtelingen statushouders zwarten negers homo's homos homo lesbiennes
    lesbo's transgenders transgender gehandicapten autisten downies mongolen roma zigeuners antillianen
    surinamers oost-europeanen oekrainers eritreeers somaliers arabieren chinezen vrouwen allochtoon gehandicapte
    mongooltjes mannen hindoes christenen katholieken protestanten refo's boeddhisten zwartjes marokkaantjes
    turkjes doven blinden zwakzinnigen kreupelen doofstommen autistjes spastici homostellen biseksuelen bi's
    meisjes meiden nieuwkomers
""")
GROUP_STEMS = ("moslim", "islamitisch", "joods", "marokkaans", "turks", "pools", "syrisch", "afrikaans",
               "buitenlands", "allochton", "asiel", "azc", "vluchteling", "zwart", "bruin", "homo", "lesbisch",
               "transgender", "gehandicapt", "autistisch", "roma", "zigeuner", "antilliaans", "surinaams",
               "oekrains", "mongool", "moskee", "hindoe", "christen", "katholiek", "refo", "hoofddoek", "nieuwkomer")
GROUP_HEADS = ("kinderen", "kindjes", "kids", "juffen", "leraren", "ouders", "gezinnen", "families", "mensen",
               "jongens", "meisjes", "volk", "tuig")
GROUP_DEMONYMS = ("marokkaanse", "turkse", "poolse", "syrische", "afrikaanse", "zwarte", "bruine",
                  "islamitische", "joodse", "gehandicapte", "autistische", "lesbische", "oekraiense",
                  "antilliaanse", "surinaamse", "buitenlandse", "allochtone", "dove", "blinde")

# -- threat -----------------------------------------------------------------------------------
WEAPONS = word_set("""
    mes messen pistool pistolen vuurwapen vuurwapens bijl knuppel honkbalknuppel vuurwerkbom bom bommen
    brandbom granaat granaten geweer jachtgeweer machete kogel kogels boksbeugel taser stanleymes
    zakmes slagersmes keukenmes kalasj kalasjnikov ak47 revolver
""")
WEAPON_EMOJI = "\U0001F52A\U0001F52B\U0001F4A3\U0001F9E8"  # knife, pistol, bomb, firecracker
BRING_VERBS = word_set("""
    kom komen neem nemen sta staan breng brengen gooi gooien leg leggen zet zetten plaats meenemen
    meebrengen mee steek steken schiet schieten
""")
FIRST_PERSON = word_set("ik we wij k kzweer kzeg")
NEGATORS = word_set("niet geen nooit niemand niks niets")
# Contexts in which "ik maak je af" or a knife is harmless.
HARMLESS_NEAR = (r"fifa|potje|spel(?:letje)?|game|gamen|schaak\w*|schaakbord|fortnite|minecraft|ranked|"
                 r"wedstrijd|finale|quiz|kook\w*|keuken|snijden|groente\w*|taart|recept|fruit|brood|"
                 r"bekerfinale|kwartfinale|padel\w*|trefbal\w*|toernooi|inmaken|pokemon\w*|brandoefening|oefening|ballon\w*|"
                 r"springkussen|luchtbed|sinterklaas|pakjes|toneel\w*|musical|lichtshow|lampion\w*|"
                 r"in\s+ons\s+hart|love\s+(?:u|you|je)|bedankt\s+voor")

# -- shared context cues ------------------------------------------------------------------------
# News and reports about a threat are not a threat.
NEWS = (r"politie\s+(?:onderzoekt|zoekt|heeft|is|kreeg|meldt|doet|houdt|pakte)|onderzoekt|aangehouden|opgepakt|"
        r"verdachte|dreigbrief|dreigbericht|dreigmail|dreigementen|bommelding|(?:werd|is|zijn|worden|werden)\s+"
        r"bedreigd|volgens\s+de\s+politie|rechtbank|officier\s+van\s+justitie|brandweer|brandstichter|"
        r"brandstichting|persbericht|nieuwsbericht|rtv\s+noord|dagblad|krant\s+meldt|meldt\s+de")
# Someone else's words, retold.
REPORTED = (r"iemand\s+(?:schreef|noemde|zei|riep|postte|zette|appte|heeft)|noemden?\b|noemen\b|noemt\b|"
            r"roepen\b|schreef|schreven|"
            r"zei\s+(?:dat|tegen)|riep|uitgescholden|scholden|schold|uitschelden|werd\s+(?:\w+\s+){0,3}genoemd|"
            r"dreigde|gedreigd|citaat|letterlijk|genoemd|las\s+ik|dat\s+las|gelezen|uitgemaakt|hoorde\s+dat|"
            r"(?:grapjes|grappen)\s+(?:maakt|maken)\s+over|niet\s+grappig")
CONDEMN = (r"schandalig|walgelijk|wat\s+erg|verschrikkelijk|onacceptabel|niet\s+normaal|ziek\s+dat|bah|"
           r"dit\s+kan\s+(?:echt\s+)?niet|triest|respectloos|ongehoord|aangifte|gemeld|afschuwelijk|"
           r"beschamend|racis\w*|discrimin\w*|niet\s+oke?|niet\s+ok|strafbaar|stop\s+met|schaam\s+je|misselijk\w*|"
           r"gerapporteerd|rapporteer\w*|kotsmisselijk|ik\s+word\s+er\s+(?:ziek|misselijk|kotsmisselijk)\s+van")
COUNTER = (r"niks\s+mis\s+met|niets\s+mis\s+met|niks\s+tegen|niets\s+tegen|welkom|horen\s+er\s+(?:gewoon\s+)?bij|"
           r"horen\s+hier\s+(?:net\s+zo\s+goed|gewoon|ook)|het\s+woord|woorden\s+als|racis\w*|discrimin\w*|"
           r"(?:haat|heb\s+een\s+hekel\s+aan)\s+(?:\S+\s+){1,3}niet\b|onzin\s+dat|wie\s+zegt\s+dat|"
           r"mensen\s+die\s+(?:zeggen|roepen)|schandalig|onacceptabel")

# -- doxing ---------------------------------------------------------------------------------------
STREET_SUFFIXES = ("straat|laan|weg|plein|dijk|kade|gracht|singel|hof|dreef|pad|steeg|erf|wal|baan|"
                   "akker|hage|zijde|boulevard|allee|straatje|wegje|laantje|hoven|zoom|wierde|borg|horst")
# Intimidating framing of personal data: "woont op", "ga maar langs", "doe er wat mee".
INTIMIDATE = (r"woon(?:t|en)\s+(?:op|aan|in|boven|naast|bij|achter)|ga\s+(?:maar|gerust)?\s*(?:eens\s+)?"
              r"(?:gezellig\s+)?langs|bel\s+(?:hem|haar|ze|maar)|app\s+(?:hem|haar|ze|maar)|stuur\s+(?:hem|haar|"
              r"ze)\s+maar|ik\s+weet\s+waar|doe\s+er\s+(?:maar\s+)?(?:wat|je\s+voordeel|iets)\s+mee|doe\s+ermee|"
              r"deel\s+maar|succes\s+ermee|veel\s+plezier\s+ermee|jullie\s+weten\s+(?:wat|genoeg|het|nu)|"
              r"nu\s+weten\s+jullie|weet\s+je\s+dat\s+(?:even|maar)|voor\s+wie\s+(?:het\s+)?(?:wil|vraagt|vroeg|"
              r"wil\s+weten)|voor\s+(?:de\s+)?(?:mensen\s+die|geinteresseerden)|prive\s*(?:nummer|adres|mail|"
              r"insta|account)|adres\s+van|nummer\s+van|kenteken\s+van|mag\s+iedereen\s+weten|iedereen\s+weet\s+nu|"
              r"laat\s+(?:hem|haar)\s+(?:maar\s+)?(?:eens\s+)?(?:weten|merken)|kun\s+je\s+(?:hem|haar)\s+mooi|"
              r"zeg\s+maar\s+dag|(?:eens|even)\s+(?:op)?zoeken|bezoekje|bel\s+maar\s+aan|zodat\s+jullie\s+het|"
              r"dat\s+jullie\s+het\s+weten|ik\s+zeg\s+(?:niks|alleen|maar)|ik\s+geef\s+alleen|wil\s+(?:spreken|"
              r"aanspreken)|(?:hem|haar)\s+(?:even\s+|eens\s+)?(?:wil\s+)?(?:spreken|aanspreken)|just\s+saying|"
              r"kan\s+je\s+niet\s+missen|ik\s+post\s+het\s+maar|iedereen\s+bellen|maakt\s+niet\s+uit\s+hoe\s+laat")
# The school's own public contact details in an announcement.
PUBLIC = (r"bereikbaar\s+(?:via|op|onder)|ons\s+adres|onze\s+school|administratie|secretariaat|"
          r"(?:bezoek|post)adres|schoolgids|aanmelden|afmelden|ziekmelden|ziek\s+melden|openingstijden|"
          r"voor\s+vragen|bij\s+vragen|neem\s+(?:gerust\s+)?contact|contactgegevens|receptie|info@|"
          r"(?:de|het|onze)\s+school\s+(?:is|zit|ligt|staat)\s+(?:aan|op|in)|kvk|open\s+dag|inloop")

# -- phrase patterns (regex source, matched on the normalised text) ------------------------------
# Threat phrases: (rule, strength, needs, pattern). needs: "actor" (ik/we/je in reach), "target" (a person or
# the school in reach), "any" (one of both), "both".
_OBJ = r"(?:je|jou|jullie|hem|haar|u|ze|die\s+\w+|dat\s+\w+|de\s+\w+|meester\s+\w+|juf\s+\w+)"
_ADV = r"(?:(?:morgen|vandaag|straks|nu|echt|gewoon|helemaal|zo|vanavond|wel|ook|nog|even|zelf|persoonlijk|"\
       r"hoogstpersoonlijk|eens|na\s+school|daarna|dan|eerst)\s+){0,3}"
_END = r"(?!\s+\w+en\b)"  # "je gaat eraan", not "we gaan er aan werken"
THREAT_PHRASES = (
    ("kill_verb", 0.9, "any", r"\b(?:vermoord(?:en|t)?|afknallen|neersteken|neerschieten|doodsteken|doodschieten|"
                              r"doodmaken|ombrengen|afslachten|opknopen|ophangen|lynchen|afrossen|kapotslaan)\b|"
                              r"\b(?:je|jou|jullie|hem|haar|ze)\s+(?:\S+\s+){0,3}?afmaken\b|\b(?:worden|wordt|word)\s+"
                              r"(?:\S+\s+){0,5}?(?:afgemaakt|vermoord|doodgeslagen|doodgestoken|doodgeschoten|opgehangen|"
                              r"neergestoken|neergeschoten|in\s+elkaar\s+(?:geslagen|getrapt|geschopt))\b"),
    ("kill_verb", 0.9, "any", r"\b(?:maak|maken|steek|steken|schiet|schieten|knal|knallen|sla|slaan|slaat|trap|"
                              r"trappen|schop|schoppen|ram|rammen|mep|meppen)\s+(?:ik|we|wij|jij)?\s*" + _OBJ + r"\s+"
                              + _ADV + r"(?:af|neer|dood|lens|verrot|in\s+elkaar|bont\s+en\s+blauw|"
                              r"het\s+ziekenhuis\s+in|tegen\s+de\s+muur|het\s+dorp\s+uit)\b"),
    ("kill_verb", 0.85, "any", r"\bin\s+elkaar\s+(?:slaan|trappen|rammen|schoppen|meppen|timmeren)\b|"
                               r"\bhersens\s+in\b|\bbloed\s+(?:gaat\s+|gaan\s+)?vloeien\b|\bverrot\s+slaan\b|"
                               r"\b(?:maak|sla)\s+(?:ik|we)?\s*(?:je|jou|jullie|hem|haar)\s+" + _ADV + r"kapot\b|"
                               r"\bslaan\s+(?:we|ik)\s+\w+\s+verrot\b|\btanden\s+uit\b|\bkogel\s+(?:door|in|geven)\b|"
                               r"\b(?:kop|hoofd|nek|benen|armen)\s+(?:eraf|breken|omdraaien)|\bbreek\s+(?:ik|we)\s+"
                               r"(?:\S+\s+){0,3}?(?:benen|nek|armen|kop|botten)\b|\bkop\s+tegen\s+de\s+muur\b"),
    ("kill_verb", 0.85, "any", r"\b(?:niet\s+(?:meer\s+)?heelhuids|"
                               r"niet\s+(?:meer\s+)?heel\s+(?:naar\s+huis|binnen|thuis)|"
                               r"niet\s+(?:navertellen|navertelt)|zal\s+er\s+iemand\s+bloeden|"
                               r"met\s+(?:een|1)\s+oog\s+open\s+(?:gaan\s+)?slapen|neem\s+(?:maar\s+)?(?:vast\s+)?een\s+"
                               r"(?:ambulance|helm)\s+mee|wat\s+(?:hem|haar|je|jullie)\s+te\s+wachten\s+staat)\b"),
    ("kill_verb", 0.8, "actor", r"\bniet\s+meer\s+veilig\b|\b(?:gaat|gaan)\s+(?:\S+\s+)?bloeden\b"),
    ("kill_verb", 0.8, "any", r"\bniet\s+(?:meer\s+)?veilig\s+over\s+straat\b|\bblauw\s+oog\b|"
                              r"\bbezoekje\s+met\s+een\s+paar\s+man\b|"
                              r"\b(?:oren|nek)\s+eraf\b|\baan\s+(?:z'n|zijn|haar)\s+(?:nek|haren)\s+(?:uit|door|over)\b"),
    ("kill_verb", 0.75, "both", r"\bsta\s+(?:ik|we)?\s*(?:\S+\s+){0,2}?op\s+(?:hem|haar|je|jou|jullie)\s+te\s+"
                                r"wachten\b|"
                                r"\bverhaal\s+(?:komen\s+)?halen\b|\b(?:kom|komen)\s+(?:ik|we)?\s*met\s+(?:een\s+paar|mijn|mn|"
                                r"m'n|onze)\s+(?:vrienden|man|maten|neven|jongens)\b"),
    ("kill_verb", 0.9, "any", r"\b(?:je|jij|jullie)\s+(?:gaat|gaan|bent|zijn)\s+(?:er\s*aan|eraan|d'r\s*aan|de\s+lul)"
                              + _END + r"|\b(?:gaat|gaan)\s+(?:er|d'r)\s*(?:ook\s+)?aan" + _END),
    ("kill_verb", 0.85, "any", r"\b(?:ik|we)\s+weet\s+waar\s+(?:je|jij|jullie|u|hij|ze|zij|\w+\s+\w+|\w+)\s+(?:woont|"
                               r"wonen|slaapt|zijn\s+auto|haar\s+auto|z'n\s+auto|parkeert|fietst|sport|werkt)\b"),
    ("kill_verb", 0.8, "any", r"\b(?:ik|we)\s+(?:ga|gaan)\s+(?:\S+\s+){0,3}?(?:wat|iets)\s+aandoen\b|"
                              r"\b(?:klap|klappen)\s+"
                              r"van\s+me\b|\bpak\s+slaag\b|\b(?:steen|stenen)\s+door\s+(?:\S+\s+){0,3}?(?:ramen|raam|ruit)|"
                              r"\bbaksteen\s+(?:\S+\s+){0,4}?(?:raam|ruit)|\bramen\s+(?:\S+\s+){0,5}?(?:ingooien|eruit)\b"),
    ("kill_verb", 0.75, "actor", r"\bdeur\s+(?:\S+\s+){0,6}?in\s*trappen|\btrap\s+(?:ik|we)\s+de\s+deur\b|"
                                 r"\bbanden\s+lek\b"),
    ("kill_verb", 0.65, "both", r"\blesje\s+(?:gaan\s+)?leren\b|\bkom\w*\s+(?:\S+\s+)?afrekenen\b|"
                                r"\bopwachten\b|\bgaan\s+boeten\b|\bmoet(?:en)?\s+(?:maar\s+)?(?:goed\s+)?oppassen\b|"
                                r"\bkrijgt\s+spijt|\b(?:hoop|hopen)\s+dat\s+ik\s+(?:\S+\s+){0,2}niet\s+"
                                r"tegenkom"),
    ("ik_kom_je", 0.85, "any", r"\b(?:ik|we)\s+(?:kom|komen)\s+(?:je|jou|jullie|hem|haar|u)\s+(?:\S+\s+){0,3}?(?:halen|"
                               r"pakken|opzoeken|vinden|opwachten|afmaken|vermoorden|straffen)\b|\b(?:ik|we)\s+(?:pak|"
                               r"krijg|vind)\s+(?:je|jou|jullie|hem|haar)\s+(?:\S+\s+){0,2}?(?:nog|wel)\b|\bik\s+weet\s+"
                               r"je\s+te\s+vinden\b|\bwacht\s+(?:maar|jij|jullie)\s+(?:\S+\s+){0,2}?tot\s+"
                               r"(?:\S+\s+){0,6}?(?:buiten|alleen|tegenkom|te\s+pakken|vind|donker)"),
    ("arson", 0.9, "any", r"\bin\s+de\s+fik\b|\bin\s+brand\s+(?:steken|zetten|gestoken|steek|zet)\b|\bsteek\s+"
                          r"(?:\S+\s+){1,5}?in\s+brand\b|\bbrand\s+stichten\b|\bplatbranden\b|\bafbranden\b|"
                          r"\baffikken\b|\bfikkie\s+stoken\b|\bmolotov\w*|\bbrandbom\w*|\bjerrycan\w*|\bhoe\s+makkelijk"
                          r"\s+benzine\s+brandt|\bbenzine\b(?=(?:\S*\s+){0,8}?\S*(?:brand|fik|aansteker|aansteken|vuur))"),
    ("arson", 0.85, "both", r"\baansteker\b(?=(?:\S*\s+){0,10}?\S*(?:brand|fik|\U0001F525))"),
    ("arson", 0.85, "any", r"\b(?:huis|auto|school)\s+(?:\S+\s+){0,4}?(?:gaan|gaat)\s+(?:\S+\s+){0,3}?branden\b"),
    ("arson", 0.85, "target", r"\bopblazen\b|\bopgeblazen\b|\bblaa?s\w*\s+(?:ik|we)?\s*(?:\S+\s+){0,4}?op\b|"
                              r"\bde\s+lucht\s+in\b|\bbom\s+(?:onder|in|bij|op|door)\b|\bvuurwerk\s+(?:\S+\s+){0,4}?brievenbus"),
)
# Targets that make a weapon, explosion or emoji a threat rather than talk.
TARGET = (r"\b(?:school|schooltje|gebouw|lokaal|lerarenkamer|gymzaal|directiekamer|klas|plein|schoolplein|hij|ze|zij|"
          r"pleinwacht|bestuur|bestuurder|bestuurders|voorzitter|gymleraar|ib'er|vader|moeder|joch|inspecteur|"
          r"juf|meester|directeur|directrice|leraar|lerares|leerkracht|conciërge|concierge|invaller|jullie|je|jou|"
          r"jij|hem|haar|u|ouderavond|afscheidsavond|feest|verkruisen|fusieschool|auto|"
          # plurals and other people and places of a school community
          r"leraren|leerkrachten|juffen|juffie|juffies|meesters|directeuren|stagiair\w*|overblijf\w*|"
          r"onderwijsassistent\w*|administratie|mr|leerlingen|kinderen|ouders|moskee|synagoge|kerk|gezin\w*)\b|@\w")
HARASS_PHRASES = (
    ("persist", 0.65, r"\b(?:ik|we)\s+(?:blijf|blijven)\s+(?:\S+\s+){0,10}?(?:appen|bellen|taggen|tag|mailen|volgen|"
                      r"sturen|reageren|komen|staan|spammen|dm'?en|posten|aanspreken|lastigvallen|opzoeken|zitten|"
                      r"achtervolgen|toeteren|aanbellen)\b"),
    ("persist", 0.7, r"\b(?:komt|komen|kom)\s+(?:\S+\s+){0,3}?(?:niet|nooit)\s+(?:meer\s+)?van\s+(?:me|mij|ons)\s+af\b|"
                     r"\bontloop\w*\s+(?:me|mij|ons)\s+niet\b|\bontkom\w*\s+niet\s+aan\s+(?:me|mij|ons)\b|"
                     r"\bblokk\w+\s+heeft\s+geen\s+zin\b|\b(?:laat|laten)\s+(?:je|jou|u|haar|hem)\s+(?:nooit|niet)\s+"
                     r"(?:meer\s+)?met\s+rust\b"),
    ("persist", 0.6, r"\b(?:ik|we)\s+(?:ga|gaan)\s+door\s+(?:tot|totdat)\b|"
                     r"\bik\s+(?:stop|hou\s+op)\s+(?:pas|niet|nooit)\b|"
                     r"\b(?:nieuw|nep|fake|ander)\s*-?\s*(?:account|profiel|accounts|profielen|nummer)\b"
                     r"(?=(?:\S*\s+){0,12}?\S*(?:blok|volg|blijf|weer|aan))"),
    ("persist", 0.55, r"\b(?:dag|week)\s*\d{1,3}\b(?=(?:\S*\s+){0,20}?\S*(?:weer|morgen|stop|elke|tot))"),
)
# Counts of contact attempts: "23 keer gebeld", "40 dms" (ten or more messages).
HARASS_COUNTS = (r"[1-9]\d*\s+keer\s+(?:gebeld|geappt|gemaild|getagd|aangebeld)\b|[1-9]\d+\s+(?:dm'?s|berichten|appjes|"
                 r"mails|briefjes|tweets)\b")
# "elke ochtend ... (ik) sta/bel/tag ..." with a person: repetition aimed at someone.
HARASS_FREQ = r"\b(?:elke|iedere|elk)\s+(?:dag|ochtend|middag|avond|nacht|week|keer|pauze|maandag|dinsdag|woensdag|"\
              r"donderdag|vrijdag|zaterdag|zondag|post|story|foto|bericht)\b|\bvanaf\s+nu\b|\bvoortaan\b"
HARASS_VERBS = word_set("""
    bel bellen app appen tag taggen mail mailen volg volgen sta staan wacht wachten reageer reageren stuur sturen
    film filmen rij rijden aanbellen kom komen zet spam spammen toeter aanstaren parkeer ga gaan zit
""")
# Group + dehumanising or exclusion predicate ("X zijn ratten", "X horen hier niet").
_GAP = r"(?:(?!geen\b|niet\b|nooit\b|niks\b)\S+\s+)"  # a word, but not a negation ("Polen zijn geen tuig")
GROUP_PREDICATE = (
    r"\b(?:zijn|is)\s+" + _GAP + r"{0,2}?(?:ratten|beesten|kakkerlakken|apen|ongedierte|parasieten|uitvreters|tuig|"
    r"uitschot|gespuis|gajes|vee|varkens|criminelen|crimineel|dieven|terroristen|terrorist|viezeriken|viespeuken|"
    r"barbaren|geldwolven|pedofielen|pedo's|kinderlokkers|gekken|sektegekken|halve\s+mensen|minderwaardig|dommer|"
    r"onnatuurlijk|een\s+(?:ziekte|plaag|gevaar|last|afwijking)|ziek(?!\s+(?:thuis|vandaag|geweest|geworden|gemeld)))"
    r"\b|"
    r"\b(?:horen|hoort|hoor)\s+(?:hier\s+)?(?:gewoon\s+|echt\s+)?(?:niet|nergens)(?!\s+te\b)(?:\s+(?:thuis|op|in|bij|"
    r"voor|aan|hier|tussen|te\s+zijn)\b|(?=\s*[,.!]|\s*$))|\bhoren\s+(?:geen|in\s+een\s+(?:eigen\s+)?(?:hok|"
    r"inrichting|kamp)|achter\s+het\s+aanrecht)\b|"
    r"\b(?:hebben|heeft)\s+(?:hier\s+)?(?:niks|niets)\s+te\s+zoeken\b|"
    r"\b(?:moeten|mogen|moet)\s+" + _GAP + r"{0,3}?(?:het\s+land\s+uit|oprotten|ophoepelen|wegblijven|weg|eruit|"
    r"apart|weren|terug(?=\s*(?:[,.!]|$|naar)))|\b(?:weren|wegsturen)\s+(?:uit|van)\b|"
    r"\b(?:stuur|gooi|zet|schop|flikker|haal|hou|houd)\s+(?:ze|die|hen|hun)\b(?:\s+\S+){0,3}?\s+(?:terug|eruit|weg|apart|"
    r"buiten|uit\s+de\s+buurt)\b|\bin\s+een\s+aparte\s+(?:klas|school|groep)\b|"
    r"\b(?:stelen|liegen|stinken)\s+(?:\S+\s+){0,2}?allemaal\b|\bzit\s+in\s+hun\s+bloed\b|\bnemen\s+alles\s+over\b|"
    r"\b(?:wegstoppen|wegwezen|uitroeien|vergassen|deporteren)\b|\bweg\s+ermee\b|\bverpesten\s+(?:het|de|alles)\b|"
    r"\b(?:trekken|halen)\s+(?:\S+\s+){0,2}niveau\s+omlaag|\b(?:ergens\s+anders|apart|weg)\s+(?:stoppen|zetten|"
    r"plaatsen)\b|\bop\s+een\s+aparte\s+(?:school|klas)\b|\b(?:ver|ver\s+weg)\s+(?:van\s+kinderen\s+)?blijven\b|"
    r"\bvan\s+(?:kinderen|onze\s+kinderen)\s+afblijven\b|\bniet\s+tolereren\b")
# Predicates that are discrimination without a group term next to them.
STANDALONE_DISCRIMINATION = (r"\bterug\s+naar\s+(?:je|jullie|hun|jouw|haar|zijn|z\'n)\s+(?:eigen\s+)?(?:land|soort)\b|"
                             r"\bnederland\s+voor\s+(?:de\s+)?nederlanders\b|\b(?:ziek|vies|walgelijk|zo'n|dat\s+soort)"
                             r"\s+volk\b|\bterug\s+naar\s+de\s+keuken\b|\bnaar\s+(?:je|hun)\s+eigen\s+soort\b")
DEFAMATION = (r"\b(?:steelt|stelen|pikt|jat|verduisterd|verduistert|vervalst|vervalste|fraudeert|dealt)\b|"
              r"\bin\s+(?:z'n|zijn|haar|hun)\s+(?:eigen\s+)?(?:zak|portemonnee|rekening)\s+(?:gestoken|gestopt|"
              r"overgemaakt)|\bzit\s+aan\s+(?:kinderen|leerlingen|meisjes|jongens)\b|\bstrafblad\b|"
              r"\bheeft\s+(?:\S+\s+){0,6}?(?:geslagen|mishandeld|misbruikt|opgesloten|betast|aangerand|gestolen|"
              r"verduisterd|vervalst)\b|\b(?:is|werd)\s+(?:\S+\s+){0,3}?(?:ontslagen|weggestuurd|opgepakt|veroordeeld)\s+"
              r"(?:omdat|wegens|voor|vanwege)\b")
HEDGE = (r"\?|\b(?:ik\s+denk|volgens\s+mij|zou\s+(?:hebben|zijn)|misschien|geruchten?|vraag\s+me\s+af|"
         r"niet\s+waar|onzin)\b")
CONFIDENTIAL = (r"\b(?:adhd|add|pdd-nos|autisme|dyslexie|dyscalculie|epilepsie|diabetes|diagnose|gediagnosticeerd|"
                r"veilig\s+thuis(?:-melding)?|zorgmelding|zorgdossier|dossier|uithuisplaatsing|uit\s+huis\s+geplaatst|"
                r"pleeggezin|jeugdzorg|jeugdbescherming|jeugd-ggz|kinderpsycholoog|speltherapie|medicatie|ritalin|"
                r"burn-?out|ziektewet|eetstoornis|hartafwijking|mutisme|vechtscheiding|onder\s+toezicht|"
                r"iq\s+(?:van\s+)?\d{2,3}|zit\s+vast|non-actief|geschorst|officiele\s+waarschuwing|verbeter(?:traject|plan)|"
                r"arbeidsconflict|intern\s+onderzoek)\b")
OWN_CHILD = r"\b(?:mijn|m'n|mn|onze|ons)\s+(?:zoon|dochter|kind|zoontje|dochtertje|jongen|meisje)\b"

# -- personal data formats ------------------------------------------------------------------------
# Dutch licence plates: the sidecodes since 1951 (L letter, D digit), written with dashes.
_SIDECODES = ("LL-DD-DD", "DD-DD-LL", "DD-LL-DD", "LL-DD-LL", "LL-LL-DD", "DD-LL-LL", "DD-LLL-D", "D-LLL-DD",
              "LL-DDD-L", "L-DDD-LL", "LLL-DD-L", "L-DD-LLL", "D-LL-DDD", "DDD-LL-D")
_STREET_NAME = r"[A-Z][a-zà-ÿ'-]{1,30}?(?:" + STREET_SUFFIXES + r")"
# A house number, not a time ("om 7.30"), an amount or a duration.
_NUMBER = r"[0-9]{1,3}(?:-?[a-zA-Z](?![\w]))?(?![0-9]|[.:,][0-9]|\s?(?:uur|u\b|jaar|keer|min|km|euro|%|dagen|weken))"
# Matched on the original text (capitals matter: "1234 AB", "GX-123-B", street names).
PERSONAL_DATA = {
    "licence_plate": r"(?<![\w-])(?:" + "|".join(c.replace("L", "[A-Z]").replace("D", "[0-9]") for c in _SIDECODES)
                     + r")(?![\w-])",
    "partial_plate": r"(?i:kenteken|nummerbord)[^.\n]{0,40}?(?<![\w-])((?=[A-Z0-9-]*[0-9])(?=[A-Z0-9-]*[A-Z])"
                     r"[A-Z0-9]{1,3}(?:-[A-Z0-9]{1,3}){1,2})(?![\w-])",
    "postcode": r"(?<![\w-])[1-9][0-9]{3} ?(?!SA|SD|SS)[A-Z]{2}(?![\w-])",
    "phone": r"(?<![\w+])(?<![0-9][ -])(?:(?:\+|00)31[ -]?(?:\(0\))?[ -]?|0)([1-7](?:[ -]?[0-9]){8})(?![ -]?[0-9])",
    "street_number": r"(?<![\w-])" + _STREET_NAME + r",?\s(?:(?:huis)?(?:nummer|nr\.?)\s?)?" + _NUMBER,
    "street_after": r"(?i:(?:huis)?(?:nummer|nr\.?))\s?" + _NUMBER + r"\s(?:in|aan|op)\sde\s" + _STREET_NAME
                    + r"(?![\w-])",
    "child_class": r"(?<![\w.])([A-Z][a-z]{2,14}(?:\s(?:de\s|van\s(?:de[rn]?\s)?)?[A-Z][a-z]{0,14}\.?)?)"
                   r"(?:\s?\(|,?\s(?:en\s)?(?:uit|in|van|zit\sin|zit\sop)\s|,\s?)(?i:groep|gr\.?)\s?[1-8][a-c]?\b",
}
EMAIL = r"(?<![\w.+-])([\w.+-]{1,64})@[\w-]{1,63}(?:\.[\w-]{1,63}){1,4}"
ROLE_MAIL = word_set("""
    info administratie admin directie secretariaat contact school noreply no-reply receptie ouderraad mr or
    klachten aanmelden redactie nieuws team
""")
# Capitalised words before "groep 5" that are not a child's name.
NOT_NAMES = word_set("""
    De Het Een Die Dat Deze Dit Ik Je Jij Wij We Ze Zij Hij Onze Ons Mijn Jullie Alle Trots Voor Uit Ouders
    Kinderen Leerlingen Juf Meester Vandaag Morgen Gisteren Bij Met Naar Ook Nu Hoi Hallo Beste Lieve Wie Wat
    Welke Elke Iedereen Sinds Vanaf Tot Bedankt Dank Groep Klas
""")
STAFF_CHILD = (r"\b(?:(?:zoon|zoontje|dochter|dochtertje|kind)\s+van\s+(?:de\s+|die\s+)?(?:juf|meester|directeur|"
               r"directrice)|(?:juf|meester)\s+\w+\s+(?:haar|zijn|z'n)\s+(?:zoon|zoontje|dochter))")
# Someone's whereabouts: "elke donderdag om 19.00", "altijd rond 17:00".
ROUTINE = (r"\b(?:elke|iedere|op|altijd)\s+(?:(?:\S+\s+){0,2}?(?:om|vanaf|rond)\s+|(?:dag|ochtend|middag|avond|"
           r"werkdag|(?:maan|dins|woens|donder|vrij|zater|zon)dag(?:avond|ochtend|middag)?)\s+(?:\S+\s+){0,3}?"
           r"(?:om|vanaf|rond|tussen)\s+)(?:[0-9]{1,2}(?:[.:][0-9]{2})?(?:\s?(?:uur|u))?|half\s+\w+|kwart\s+"
           r"(?:over|voor)\s+\w+)")
NAMED = (r"\b(?:juf|meester|mevrouw|meneer|directeur|directrice|concierge|ib'er|invaller|leerkracht|leraar|lerares|"
         r"vader|moeder|voorzitter|prive)\w*|@\w")
# Staff about whom an accusation is defamation; named pupils and colleagues next to care details.
STAFF = (r"\b(?:juf|meester|mevrouw|meneer|directeur|directrice|concierge|leraar|gymleraar|leerkracht|ib'er|invaller|"
         r"penningmeester|bestuurder|voorzitter|adjunct|intern\s+begeleider)\b")
PUPIL = (r"\b[A-Z][a-z]{2,14}(?:\s[A-Z]\.)?\s?(?:\(|,\s|\suit\s)(?:(?i:groep|gr\.?)\s?[1-8]|mijn\sgroep)|"
         r"(?i:juf|meester|collega|leerling)\s[A-Z][a-z]{2,14}")
SECRET = (r"\b(?:niet\s+(?:door|verder)\s*vertellen|intern|vertrouwelijk|sst|tussen\s+ons|off\s+the\s+record|team\w*|"
          r"zorgoverleg|personeelsapp|hoort\s+nog\s+niemand)\b")
