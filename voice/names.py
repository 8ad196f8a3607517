"""Common Danish, Norwegian and English names, for voice.masking.

`GIVEN` and `SURNAMES` are the most common names in Denmark, Norway and the United Kingdom
(a few hundred, lower case), with names common among newer residents of all three. They let
the masking find a name where capitalisation does not give it away: as the first word of a
sentence ("Mette var sød") or written in lower case after a word that introduces a name
("min rådgiver anne").

Left out on purpose, because they open ordinary sentences as often as they name someone:
Hans (Danish and Norwegian "his"), Dag ("day"), Even, Will, May, Hope, Ask, Jo, Max, Odd,
August and Maj (months), Young, Price, Ward, Cook, Green, White, Brown, Hall, Wood, Hill,
King, Bell, Strand, Berg, Lund, Holm, Lie, Hagen. Such a name is still masked in the middle
of a sentence, where its capital letter shows it is a name.

`ALSO_WORDS` are listed names that are also ordinary lower-case words in one of the three
languages ("per", "liv", "bo", "line", "tone"): written in lower case they are read as the
word, not the name.

Pure data: no imports.
"""

from __future__ import annotations

_DANISH_NORWEGIAN_WOMEN = """
agnes alma amalie anette anja anita ann anna anne annette asta astrid aase åse benedikte
bente berit birgit birgitte birte birthe bjørg camilla caroline cecilie charlotte christina
christine clara connie dorte dorthe ea eli elin elisabeth ella ellen else emilie emma erna
eva frida freja gerd gitte grete grethe gro gudrun gunhild gunn guro hanna hanne hedda
hege heidi helen helena helene helle henriette hilde ida inga inge ingeborg inger ingrid
ingvild isabella jane janne jette johanne jorunn josefine julie jytte kamilla karen kari
karin karina karla karoline katrine kirsten kirstine kjersti klara kristin kristina
kristine laila laura lea lena lene lill lillian line linn lisa lisbeth lise liv liva
lone louise luna lærke maiken maja malene mari maria marianne marie marit maren margit
margrethe marte martine mathilde mette mia mille mona nadia nanna nina nora oda olivia
pernille pia ragnhild randi rigmor rikke rita ruth sanne sara sarah selma signe sigrid
silje siri sofie sofia solveig stine susanne synnøve thea tina tone tonje torill tove
trine tuva turid ulla unni vera vibeke victoria vilde wenche winnie yvonne
"""

_DANISH_NORWEGIAN_MEN = """
aage adam aksel albert alexander alf alfred allan anders andreas anton arne arnfinn asbjørn
asger audun benny bent bertram bjarne bjørn bo brian carl carsten casper christian
christoffer claus dan daniel david dennis egil eigil einar eirik elias emil erik erling
espen finn flemming frank frederik fredrik frode gaute geir gunnar halvor harald
helge henning henrik holger hugo håkon ib ivar jacob jakob jan jens jesper jimmy joachim
johan johannes johnny jon jonas jonathan jørgen jørn kaj kai karl kasper kenneth kenn
kent ketil kim kjeld kjell klaus knud knut kristian kristoffer kurt kåre lars lasse leif
lucas lukas magne magnus malthe marius martin mathias mats matias mikael mikkel mogens
morten nicolai niels nikolai nikolaj nils noah ola olav ole oliver oscar oskar otto palle
patrick peder per peter petter philip poul preben rasmus ragnar reidar rene rené roar
robert roger rolf rune sebastian sigurd simon sindre sivert steen stefan stein steinar
sten stian sune svein svend sverre søren tage terje theo thomas thor tobias tom tommy tor
torben torbjørn tore torstein troels trond trygve ulrik valdemar vegard vidar viggo
viktor victor vilhelm villads william yngve øivind øystein øyvind
"""

_ENGLISH = """
aaron abigail alan alexandra alfie alice alison amanda amber amelia amy andrew angela
ann anthony archie arthur ashley ava barbara barry ben benjamin beth bethany betty bill
brenda callum carol caroline catherine charles charlie charlotte chloe chris christopher
claire clare colin connor craig darren dave deborah debra diane donald donna dorothy
douglas dylan edward eleanor elizabeth ellie emily ethan evelyn evie fiona florence
freddie gareth gary george gillian grace graham hannah harriet harry heather helen
henry holly ian isaac isla ivy jack jacqueline james jamie jane janet jason jean jeffrey
jennifer jenny jessica joan joanne john jonathan joseph joshua joyce judith julia julie
justin karen kate katherine kathleen katie keith kelly kevin kimberly laura lauren leo
lewis liam lily linda lisa louise lucy luke lynn margaret mark mary matthew megan
melissa michael michelle mike natalie nathan neil nicholas nicola nicole oliver olivia
owen pamela patricia paul pauline peter philip phillip poppy rachel rebecca rhys richard
robert robin ronald rose ruth ryan sally samantha samuel sandra sarah scott sharon
shirley simon sophie stephanie stephen steve steven stuart susan teresa thomas timothy
tony tracey tracy trevor victoria vincent wendy william zoe
"""

_NEWER_RESIDENTS = """
abdi abdullah abdullahi ahmad ahmed aisha ali amina fatima fatma hassan hussein ibrahim
khadija mariam maryam mehmet mohamed mohammad mohammed muhammad mustafa omar yusuf zainab
agnieszka anna katarzyna piotr tomasz olena oksana andriy
"""

_SURNAMES = """
andersen andreasen bertelsen carlsen christensen christiansen christoffersen clausen
dahl eriksen frandsen frederiksen hansen henriksen iversen jacobsen jakobsen jensen
jeppesen jepsen jespersen jessen johansen jørgensen kjær knudsen kristensen kristiansen
larsen laursen lauridsen madsen mikkelsen mogensen mortensen møller nielsen nissen
nørgaard olesen olsen pedersen petersen poulsen rasmussen schmidt simonsen svendsen
sørensen thomsen vestergaard østergaard
amundsen andreassen bakke berntsen eide gundersen halvorsen haugen johannessen johnsen
karlsen knutsen kristoffersen martinsen mathisen moen nilsen nygård paulsen pettersen
solberg solheim
adams allen anderson bailey baker barnes bennett campbell carter chapman clark clarke
collins cooper davies davis dixon edwards ellis evans fisher foster griffiths harris
harrison harvey hughes jackson james jenkins johnson jones kelly khan lewis lloyd marshall
martin matthews mitchell moore morgan morris murphy murray owen parker patel phillips
richards richardson roberts robinson rogers russell scott shaw simpson singh smith stevens
taylor thomas thompson turner walker watson wilkinson williams wilson wright
begum hussain nguyen
"""

GIVEN: frozenset[str] = frozenset(
    (_DANISH_NORWEGIAN_WOMEN + _DANISH_NORWEGIAN_MEN + _ENGLISH + _NEWER_RESIDENTS).split())
SURNAMES: frozenset[str] = frozenset(_SURNAMES.split())
NAMES: frozenset[str] = GIVEN | SURNAMES

ALSO_WORDS: frozenset[str] = frozenset("""
amber ben bent bill bjørn bo christian else finn frank grace gro holly ivy jack kai kaj
lene lily line liv lone lærke mark per poppy robin rose rune stein sten tom tone vilde
""".split())
