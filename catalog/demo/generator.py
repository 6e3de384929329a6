"""Demo catalogue: synthetic French marketplace listings for the 27 product types.

On a fresh install ``make run`` imports these rows and trains a small text-only
starter model so that a new user gets category suggestions straight away.

Every word below was written for this project: no row comes from the Rakuten
challenge data.  Listings are produced by filling hand-written title and
description templates with per-category vocabulary, driven by
``random.Random(seed)``, so the same seed always yields the same rows.

Pure Python, standard library only (no Django import).
"""

from __future__ import annotations

import csv
import random
import re
from os import PathLike

__all__ = [
    "CSV_FIELDS",
    "DEMO_CATEGORIES",
    "generate_demo_rows",
    "write_demo_csv",
]

CSV_FIELDS: tuple[str, ...] = (
    "product_id",
    "title",
    "description",
    "category",
    "image",
)

DEMO_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("10", "Livres occasion"),
    ("40", "Jeux consoles neuf"),
    ("50", "Accesoires gaming"),
    ("60", "Consoles de jeux"),
    ("1140", "Objets pop culture"),
    ("1160", "Cartes de jeux"),
    ("1180", "Jeux de rôle et figurines"),
    ("1280", "Jouets enfant"),
    ("1281", "Jeux enfant"),
    ("1300", "Modélisme"),
    ("1301", "Chaussettes enfant"),
    ("1302", "Jeux de plein air"),
    ("1320", "Puériculture"),
    ("1560", "Mobilier"),
    ("1920", "Linge de maison"),
    ("1940", "Epicerie"),
    ("2060", "Décoration"),
    ("2220", "Animalerie"),
    ("2280", "Journaux et revues occasion"),
    ("2403", "Lots livres et magazines"),
    ("2462", "Jeux videos occasion"),
    ("2522", "Fournitures papeterie"),
    ("2582", "Mobilier de jardin"),
    ("2583", "Piscine et accessoires"),
    ("2585", "Outillage de jardin"),
    ("2705", "Livres neufs"),
    ("2905", "Jeux PC"),
)


def _w(text: str) -> tuple[str, ...]:
    """Split a ``|``-separated block into entries with collapsed whitespace."""
    parts = (" ".join(part.split()) for part in text.split("|"))
    return tuple(part for part in parts if part)


# --------------------------------------------------------------------------------------
# Vocabulary shared by several categories.  Slots are written ``{name}``; a slot
# written ``{name:A-B}`` draws an integer between A and B.  Slot values may contain
# further slots, which are filled recursively.
# --------------------------------------------------------------------------------------
_SHARED: dict[str, tuple[str, ...]] = {
    "colour": _w(
        """noir | blanc | gris | gris anthracite | rouge | bleu | bleu marine | vert
        | vert sauge | beige | rose | rose poudré | jaune moutarde | taupe | écru |
        terracotta | bleu canard | naturel | argent | doré"""
    ),
    "ship": _w(
        """Envoi rapide et soigné. | Expédition sous 24/48h. | Envoi en colis suivi.
        | Remise en main propre possible. | Frais de port réduits pour achat groupé.
        | Livraison gratuite dès 25 € d'achat. | Expédié depuis la France. |
        N'hésitez pas à me contacter pour toute question. | Paiement sécurisé. | Voir
        mes autres annonces. | Photos non contractuelles. | Satisfait ou remboursé."""
    ),
    "generic": _w(
        """Article neuf. | Très bon état. | Vendu tel quel. | Produit de qualité. |
        Excellent rapport qualité/prix. | Idéal pour offrir. | Neuf, jamais servi. |
        Occasion, voir photos. | Article en parfait état. | Déstockage. | Quantité
        limitée. | Comme sur la photo. | Cause double emploi. | Article d'occasion en
        bon état. | Neuf dans son emballage d'origine."""
    ),
    "used": _w(
        """occasion, très bon état | bon état | très bon état | état correct | bon
        état général | comme neuf | occasion, bon état | état d'usage"""
    ),
    "kid_age": _w(
        """dès 3 ans | à partir de 3 ans | 3 ans et + | dès 4 ans | 5 ans et plus | à
        partir de 6 ans | 6-10 ans | dès 18 mois | 2 ans et + | 8 ans et plus"""
    ),
    "first": _w(
        """Marc | Claire | Julien | Sophie | Antoine | Hélène | Thomas | Camille |
        Louis | Isabelle | Pierre | Margaux | Nicolas | Élise | Henri | Lucie |
        Bernard | Anne | Victor | Chloé | Paul | Nathalie"""
    ),
    "last": _w(
        """Duval | Lemoine | Garnier | Fontaine | Rousseau | Mercier | Perrin |
        Lambert | Chevalier | Morel | Girard | Aubert | Delacroix | Vasseur |
        Marchand | Roche | Bertin | Caron | Lefèvre | Noiret | Baudin | Hamon"""
    ),
    "author": _w("{first} {last} | {first} {last} | {last} {first} | {first} {last}"),
    "book": _w(
        """{book_head} {book_tail} | {book_head} {book_tail} | {book_head} |
        {book_nonfic}"""
    ),
    "book_head": _w(
        """Le Secret | La Maison | Le Silence | La Nuit | Le Jardin | La Promesse |
        Le Voyageur | L'Île | Le Dernier Été | La Mémoire | Le Prisonnier | La Forêt
        | Le Chant | L'Héritière | Le Mystère | La Vallée | Le Cercle | Les Enfants |
        Le Passager | La Lettre | Les Ombres | Le Phare"""
    ),
    "book_tail": _w(
        """des Collines | de la Rivière | du Nord | d'Automne | sans Nom | des
        Oubliés | de Minuit | du Lac | aux Lilas | de Saint-Malo | des Glaces | de
        l'Aube | du Vieux Port | des Marais | d'Hiver | de Cendres | des Sables | du
        Capitaine"""
    ),
    "book_nonfic": _w(
        """Guide pratique du potager | Cuisine facile en 30 minutes | Histoire de
        France illustrée | Apprendre l'anglais en 3 mois | Le Grand Livre de la
        pâtisserie | Petite histoire de l'art | Méditer au quotidien | Atlas des
        oiseaux d'Europe | La Philosophie pour les nuls | Manuel de couture |
        Comprendre l'économie | Les Plantes médicinales"""
    ),
    "genre": _w(
        """roman | roman policier | thriller | roman historique | essai | biographie
        | science-fiction | fantasy | roman jeunesse | poésie | roman sentimental |
        récit de voyage | bande dessinée | manga"""
    ),
    "publisher": _w(
        """Éditions du Phare | Livre de Poche | Éditions Solstice | Folio | Éditions
        Marée Haute | Pocket | Éditions de l'Aube Claire | Presses du Sud | J'ai Lu |
        Éditions Boréales"""
    ),
    "game": _w(
        """{game_a} {game_b} {game_sfx} | {game_a} {game_b} {game_sfx} | {game_a}
        {game_b}"""
    ),
    "game_a": _w(
        """Shadow | Turbo | Star | Iron | Dragon | Neon | Battle | Mystic | Rally |
        Zombie | Super | Galaxy | Ninja | Urban | Pixel | Kingdom | Football | Racing
        | Crystal | Thunder | Frozen | Wild"""
    ),
    "game_b": _w(
        """Legends | Quest | Kart | Warriors | Arena | Odyssey | Chronicles | Strike
        | Heroes | Rivals | Dash | Tactics | Champions | Survival | Empire | Drift |
        Hunters | Saga"""
    ),
    "game_sfx": _w(
        "2 | 3 | IV | : Origins | Remastered | 2020 | 2019 | : Reborn | Ultimate | HD"
    ),
    "franchise": _w(
        """Capitaine Nova | Les Gardiens d'Orion | Neo Samurai | Royaume Gelé |
        Pirates du Vent | Academy Heroes | Space Rangers | Chroniques d'Astra | Mecha
        Titans | Sorciers de Brume | Kaiju Force | Dark Knightfall | Petits Monstres
        | Dragon Ball Zeta"""
    ),
    "hero": _w(
        """Capitaine Nova | Kira | le Chevalier Noir | Zorak | la Reine des Glaces |
        Taro | Lord Vex | Mira | le Dragon Rouge | Agent Zéro | Yuki | Bolt"""
    ),
    "year": _w(
        """1998 | 2002 | 2005 | 2008 | 2010 | 2012 | 2014 | 2015 | 2016 | 2017 | 2018
        | 2019 | 2020 | 2021"""
    ),
    "old_year": _w(
        """1962 | 1968 | 1971 | 1975 | 1979 | 1983 | 1986 | 1989 | 1992 | 1995 | 1997
        | 2001 | 2004 | 2008 | 2011"""
    ),
    "synopsis": _w(
        """À la mort de son père, {first} découvre une lettre qui va bouleverser sa
        vie. | Dans un village isolé, une disparition réveille de vieilles rancœurs.
        | {first} a trente ans et décide de tout quitter pour partir sur les routes.
        | Un thriller haletant au cœur des Alpes. | Une saga familiale sur trois
        générations de femmes. | Le commissaire {last} enquête sur une série de
        meurtres à Lyon. | Plus de 200 recettes expliquées pas à pas. | Une plongée
        passionnante dans l'histoire méconnue de la Bretagne."""
    ),
    "month": _w(
        """janvier | février | mars | avril | mai | juin | juillet | août | septembre
        | octobre | novembre | décembre"""
    ),
}

# --------------------------------------------------------------------------------------
# Per-category vocabulary and templates.  "titles" and "descs" hold templates; every
# other key is a slot.  Slots not found here fall back to _SHARED.
# --------------------------------------------------------------------------------------
_SPECS: dict[str, dict[str, tuple[str, ...]]] = {
    # 10 Livres occasion --------------------------------------------------------------
    "10": {
        "titles": _w(
            """{book} - {author} | {book} de {author} - {fmt} | {book} - {author}
            ({fmt}) | {book} {author} {used_short} | {book} - {author} - {publisher}
            {old_year} | {book} | {book} - {fmt} {used_short} | Livre {book} {author}
            | {book} {fmt} | {book} - {author} - {publisher}"""
        ),
        "descs": _w(
            """Livre d'occasion en {used}. | {genre_cap} de {pages:120-640} pages. |
            Éditeur : {publisher}, {old_year}. | {wear}. | Ouvrage {used}, {wear2}. |
            Couverture souple, {wear2}. | Livre lu une fois, {used}. | Vendu dans
            l'état, voir photos. | ISBN
            978-2-{isbn:10000-99999}-{i2:100-999}-{i3:0-9}. | Résumé : {synopsis}"""
        ),
        "fmt": _w(
            "Poche | Broché | Relié | Format poche | Grand format | Livre de poche"
        ),
        "used_short": _w("occasion | - occasion | bon état | TBE | état correct"),
        "genre_cap": _w(
            """Roman | Roman policier | Thriller | Essai | Biographie | Roman
            historique | Récit | Recueil de nouvelles"""
        ),
        "wear": _w(
            """Quelques pages jaunies | Couverture légèrement cornée | Traces d'usure
            sur la tranche | Ancien nom sur la page de garde | Pas d'annotations |
            Intérieur propre | Dos légèrement plissé | Petite tache sur la couverture"""
        ),
        "wear2": _w(
            """pages jaunies par le temps | coins un peu frottés | sans annotation |
            intérieur propre | dos cassé | tranche légèrement salie"""
        ),
    },
    # 40 Jeux consoles neuf -----------------------------------------------------------
    "40": {
        "titles": _w(
            """{game} - {platform} | {game} {platform} - Neuf | {game} - {platform} -
            {new} | {game} Edition {edition} - {platform} | Jeu {platform} {game}
            {new} | {game} ({platform}) | {game} {platform} {pegi} | {game}
            {platform} | {game} - {platform} - {zone}"""
        ),
        "descs": _w(
            """Jeu {platform} neuf sous blister, version française. | {new_desc}. |
            Édition {edition} comprenant {bonus}. | Classification {pegi}. | Plongez
            dans un univers {univ} et affrontez vos amis en ligne. | {players}. |
            Sortie le {day:1-28} {month} {yy:2019-2024}. | Livré avec {bonus}. | Jeu
            en français, boîtier {platform} {zone}."""
        ),
        "platform": _w(
            """PS5 | PS4 | Xbox Series X | Xbox One | Nintendo Switch | Switch |
            PlayStation 5 | PlayStation 4 | Xbox Series X/S"""
        ),
        "new": _w(
            """Neuf sous blister | neuf | NEUF | Neuf scellé | Version FR neuve |
            Neuf sous film"""
        ),
        "new_desc": _w(
            """Produit neuf, jamais ouvert | Article neuf sous blister d'origine |
            Neuf, scellé, version PAL FR | Jeu neuf livré dans son emballage
            d'origine"""
        ),
        "edition": _w(
            """Deluxe | Collector | Day One | Limitée | Gold | Standard | Complète |
            Game of the Year"""
        ),
        "bonus": _w(
            """un steelbook exclusif | le season pass | un code de contenu
            additionnel | une carte du monde | des skins exclusifs | un artbook"""
        ),
        "pegi": _w("PEGI 3 | PEGI 7 | PEGI 12 | PEGI 16 | PEGI 18"),
        "univ": _w(
            """post-apocalyptique | fantastique | futuriste | médiéval | coloré | en
            monde ouvert"""
        ),
        "players": _w(
            """1 à 4 joueurs | Jouable en solo ou en multijoueur en ligne | Mode
            coopération en écran partagé | 1 joueur, 2 à 8 joueurs en ligne"""
        ),
        "zone": _w("PAL | version européenne | FR | PAL FR"),
    },
    # 50 Accesoires gaming ------------------------------------------------------------
    "50": {
        "titles": _w(
            """{acc} {brand} pour {platform} - {colour} | {acc} compatible {platform}
            | {brand} {acc} {feature} | {acc} {feature} {platform} | Lot de {n:2-4}
            {acc_pl} {platform} | {acc} {platform} {colour} {feature} | Manette
            {platform} {colour} | {acc} {colour}"""
        ),
        "descs": _w(
            """{acc_cap} compatible {platform} et PC. | {feature_cap}. | Câble USB-C
            de {len:1-3} m inclus. | Autonomie jusqu'à {h:8-40} heures. | Ergonomie
            étudiée pour de longues sessions de jeu. | {tech}. | Installation plug
            and play, aucun pilote nécessaire. | Garantie {g:1-2} an(s). | Couleur :
            {colour}."""
        ),
        "acc": _w(
            """Manette sans fil | Casque gaming | Volant de course | Chargeur de
            manettes | Station de charge | Câble de charge | Étui de protection |
            Housse de transport | Support casque | Souris gamer | Clavier mécanique |
            Tapis de souris XXL | Grip de protection | Protection d'écran verre
            trempé | Joy-Con | Manette filaire | Carte mémoire | Pédalier"""
        ),
        "acc_pl": _w(
            """manettes | protections d'écran | grips silicone | câbles de charge |
            capuchons de joystick"""
        ),
        "acc_cap": _w("Accessoire | Manette | Casque | Produit | Support | Chargeur"),
        "brand": _w(
            "Nexgear | ProPad | Kyroz | GameX | Voltix | Subzero Gaming | Hexon"
        ),
        "platform": _w(
            """PS4 | PS5 | Xbox One | Xbox Series | Nintendo Switch | Switch Lite |
            PC | PS4 / PC"""
        ),
        "feature": _w(
            """RGB | sans fil | Bluetooth | 7.1 surround | double vibration |
            rétroéclairé | avec micro | 2.4 GHz | anti-dérapant | 16000 DPI"""
        ),
        "feature_cap": _w(
            """Rétroéclairage RGB personnalisable | Connexion sans fil 2.4 GHz | Son
            surround 7.1 et micro antibruit | Double moteur de vibration | Boutons
            programmables | Capteur optique haute précision"""
        ),
        "tech": _w(
            """Batterie lithium rechargeable 1000 mAh | Prise jack 3,5 mm |
            Coussinets en mousse à mémoire de forme | Gyroscope 6 axes | Switches
            mécaniques bleus | Base antidérapante en caoutchouc"""
        ),
    },
    # 60 Consoles de jeux -------------------------------------------------------------
    "60": {
        "titles": _w(
            """Console {console} {storage} {colour} | Console {console} + {n:1-2}
            manette(s) | Pack {console} {storage} + {game} | {console} {storage}
            {cond_c} | Console {console} {cond_c} | Console rétro {retro} | {console}
            édition {edition} {storage} | {console} {colour} | {console} + jeux"""
        ),
        "descs": _w(
            """Console {console} avec manette, câble HDMI et alimentation. | Console
            {cond_c}, testée et fonctionnelle. | {retro_desc}. | Capacité de stockage
            {storage}. | Résolution 4K, {fps} images/s. | Livrée avec {n:1-2}
            manette(s) et {game}. | Boîte d'origine incluse. | Garantie {g:6-24}
            mois."""
        ),
        "console": _w(
            """PS5 | PS4 Slim | PS4 Pro | Xbox Series X | Xbox Series S | Xbox One S
            | Nintendo Switch | Switch OLED | Switch Lite | Nintendo 3DS XL | New 2DS
            XL | Game Boy Advance | Nintendo Wii | PS Vita | PSP 3000 | Nintendo 64 |
            Super Nintendo | Mega Drive | PlayStation 2"""
        ),
        "storage": _w("500 Go | 1 To | 825 Go | 32 Go | 64 Go | 512 Go | 1 To"),
        "cond_c": _w(
            """neuve | neuve en boîte | reconditionnée | occasion | très bon état |
            complète en boîte"""
        ),
        "edition": _w("limitée | spéciale | collector | Pokémon | Fortnite | digitale"),
        "retro": _w(
            """portable 400 jeux intégrés | mini 620 jeux | HDMI 10000 jeux | arcade
            2 joueurs | portable écran 3 pouces"""
        ),
        "retro_desc": _w(
            """Console rétro avec jeux classiques intégrés | Batterie rechargeable,
            sortie TV | Branchez-la simplement sur votre téléviseur | Idéale pour
            retrouver les jeux des années 80 et 90"""
        ),
        "fps": _w("60 | 120"),
    },
    # 1140 Objets pop culture ---------------------------------------------------------
    "1140": {
        "titles": _w(
            """Figurine {pop} {franchise} {hero} | {obj} {franchise} | {obj} {hero} -
            {franchise} | {franchise} - {obj} {colour} | Figurine {hero} {franchise}
            {h:10-30} cm | {pop} {hero} #{num:10-999} | {obj} officiel {franchise} |
            Peluche {hero} {franchise} | Puzzle {franchise} {n:500-1000} pièces"""
        ),
        "descs": _w(
            """Produit officiel sous licence {franchise}. | Figurine en vinyle,
            hauteur {h:9-30} cm. | {obj_cap} à l'effigie de {hero}. | Idéal pour les
            fans et collectionneurs. | Boîte fenêtre, {box}. | Série {franchise},
            numéro {num:10-999}. | Parfait pour décorer une étagère ou un bureau
            geek. | Matière : {mat}."""
        ),
        "pop": _w(
            "Pop! | Funkiz Pop | Vinyl Heroes | Pop Vinyl | Collector Line | Toyzone"
        ),
        "obj": _w(
            """Mug | Mug thermoréactif | Porte-clés | Poster | Statuette | Bobblehead
            | Tapis de souris | Lampe veilleuse | Tirelire | Coussin | T-shirt |
            Réplique d'épée | Plaque métal | Badge | Carnet | Gourde"""
        ),
        "obj_cap": _w("Objet | Mug | Statuette | Porte-clés | Réplique | Figurine"),
        "box": _w(
            """neuve en boîte | boîte légèrement abîmée | jamais ouverte | état
            collection"""
        ),
        "mat": _w("vinyle | céramique | PVC | métal | résine | polyester"),
    },
    # 1160 Cartes de jeux -------------------------------------------------------------
    "1160": {
        "titles": _w(
            """Carte {tcg} {card} {rarity} {set}-{num:1-220}/{tot:150-230} | {card}
            {pv} {rarity} - {tcg} | Lot de {n:10-200} cartes {tcg} | Booster {tcg}
            {extension} | Display {n:18-36} boosters {tcg} {extension} | {card} -
            {set}{num:1-220} - {rarity} VF | Deck {tcg} {card} {n:40-60} cartes |
            Carte {card} {rarity} {lang} | {card} {rarity} | Jeu de cartes {tcg}
            starter"""
        ),
        "descs": _w(
            """Carte {rarity} en {lang}, {cstate}. | Provenant directement d'un
            booster. | Envoyée sous sleeve et toploader. | Extension {extension}. |
            Lot de cartes communes, peu communes et {rarity}. | {pv}, type {ctype}. |
            Protégée dès l'ouverture du booster. | Booster scellé, {n:10-11} cartes
            par booster."""
        ),
        "tcg": _w(
            """Mythic Clash | Duel Arcane | Pocket Beasts | Legends of Ether | Star
            Duel TCG"""
        ),
        "card": _w(
            """Dracolosse | Gardien d'Obsidienne | Phénix Solaire | Lutin des Bois |
            Golem de Cristal | Mage Écarlate | Serpent des Abysses | Roi Liche |
            Ondine | Chevalier Céleste | Loup Spectral | Titan de Lave"""
        ),
        "rarity": _w(
            """Holo | Reverse | Rare | Ultra Rare | Secrète | Full Art | Commune |
            Mythique | Promo | Gold"""
        ),
        "set": _w("SSP | EVS | BST | AE | LOE | MC | DA"),
        "extension": _w(
            """Éveil des Ombres | Tempête Astrale | Origines Perdues | Couronne
            Céleste | Flammes Obscures | Forces Temporelles"""
        ),
        "pv": _w("PV 60 | PV 90 | PV 120 | PV 180 | PV 230 | PV 300"),
        "lang": _w("VF | FR | français | anglais | japonaise"),
        "cstate": _w("near mint | mint | excellent | légèrement jouée | neuve"),
        "ctype": _w("feu | eau | plante | psy | combat | ténèbres | lumière"),
    },
    # 1180 Jeux de rôle et figurines --------------------------------------------------
    "1180": {
        "titles": _w(
            """Figurine {unit} {faction} {scale} | {brand} - {unit} ({n:5-20}
            figurines) | {jdr_book} - {jdr} | Boîte de base {jdr} | {unit} {faction}
            - à peindre | Set de {n:7-20} dés {dice} pour jeu de rôle | Écran du MJ
            {jdr} | {brand} {faction} {unit} {mat} | Figurine {unit} {mat}"""
        ),
        "descs": _w(
            """Figurines en {mat} non peintes, livrées avec socles. | Échelle
            {scale}. | {jdr_desc}. | Compatible avec la plupart des jeux
            d'escarmouche. | Livre de règles de {pages:96-320} pages, couverture
            rigide. | Armée {faction} prête à être assemblée et peinte. | Colle et
            peinture non fournies. | Pour meneur de jeu et joueurs dès 12 ans."""
        ),
        "brand": _w(
            """Warforge | Battle Realms | Ironhold Miniatures | Mythos | Donjons &
            Légendes"""
        ),
        "jdr": _w(
            """Donjons & Légendes | Mythos | L'Appel des Ténèbres | Terres d'Aventure
            | Cyber Noir | Chroniques d'Ysgard"""
        ),
        "jdr_book": _w(
            """Livre de base | Manuel du joueur | Bestiaire | Supplément campagne |
            Guide du maître | Kit d'initiation | Scénario"""
        ),
        "jdr_desc": _w(
            """Jeu de rôle en français, univers {univ} | Contient une campagne
            complète et des aides de jeu | Fiches de personnages et cartes incluses |
            Idéal pour débuter le jeu de rôle"""
        ),
        "univ": _w(
            "médiéval-fantastique | horrifique | cyberpunk | space opera | viking"
        ),
        "unit": _w(
            """Space Marines | Guerriers orcs | Chevaliers elfes | Squelettes | Nains
            arquebusiers | Dragon | Gobelins | Paladins | Mage nécromancien |
            Cavalerie lourde | Troupes de choc | Démon ailé"""
        ),
        "faction": _w(
            """Empire | Orks | Elfes noirs | Morts-vivants | Nains | Chaos |
            Impériaux | Hommes-lézards"""
        ),
        "scale": _w("28mm | 32mm | 15mm | 54mm | 28 mm"),
        "mat": _w("plastique | métal | résine | plastique gris"),
        "dice": _w("polyédriques | métal | translucides | nacrés | D20"),
    },
    # 1280 Jouets enfant --------------------------------------------------------------
    "1280": {
        "titles": _w(
            """{toy} {brand} {kid_age} | {toy} {feature} - {colour} | {toy}
            {franchise} | {brand} - {toy} {feature} | Peluche {plush} {h:20-80} cm |
            Poupée {doll} {h:30-45} cm avec accessoires | {toy} {kid_age} {feature} |
            Puzzle en bois {theme_t} | Jeu de construction {n:50-500} pièces |
            Peluche {hero} {h:20-40} cm"""
        ),
        "descs": _w(
            """Jouet {kid_age}, conforme aux normes CE. | {toy_desc}. | Fonctionne
            avec {n:2-4} piles AA (non fournies). | Matière : {mat}. | Développe
            l'imagination et la motricité de l'enfant. | Idée cadeau pour Noël ou
            anniversaire. | Dimensions : {a:15-60} x {b:10-40} cm. | Attention : ne
            convient pas aux enfants de moins de 36 mois, petites pièces."""
        ),
        "toy": _w(
            """Voiture radiocommandée | Camion de pompiers | Cuisine en bois |
            Dînette | Garage à voitures | Circuit de train | Poupon | Robot
            interactif | Dinosaure articulé | Trotteur | Hochet | Établi de bricolage
            | Caisse enregistreuse | Maison de poupée | Figurine articulée | Cubes
            d'éveil | Tableau d'activités | Xylophone | Château fort | Pistolet à
            bulles | Tracteur à friction"""
        ),
        "theme_t": _w("animaux | dinosaures | ferme | véhicules | alphabet | chiffres"),
        "plush": _w(
            "lapin | ours | licorne | chien | chat | dinosaure | panda | renard"
        ),
        "doll": _w("mannequin | poupon | princesse | bébé | de chiffon"),
        "brand": _w(
            "Jouéo | Petit Malin | Ludiko | Bambini | Woody Kids | Toupti | Kidimo"
        ),
        "feature": _w(
            """sonore et lumineux | en bois | télécommandé | musical | interactif | à
            tirer | 2.4 GHz | avec accessoires | à friction | électronique"""
        ),
        "toy_desc": _w(
            """Jouet robuste en bois issu de forêts gérées durablement | Effets
            sonores et lumineux | Télécommande 2.4 GHz, portée 30 m | Livré avec de
            nombreux accessoires | Peluche toute douce lavable en machine | Roues en
            caoutchouc pour tous les sols"""
        ),
        "mat": _w("bois | plastique | plastique ABS | peluche polyester | tissu"),
    },
    # 1281 Jeux enfant ----------------------------------------------------------------
    "1281": {
        "titles": _w(
            """{game_kind} {gname} - {brand} | {gname} - {game_kind} {kid_age} |
            Puzzle {pcs} pièces {theme} | {game_kind} {theme} {kid_age} | {brand}
            {gname} {players} | Jeu de cartes {gname} | Jeu éducatif {edu} | Jeu de
            construction magnétique {pcs} pièces | Jeu de cartes {theme}"""
        ),
        "descs": _w(
            """{players}, {kid_age}. | Durée d'une partie : {min:10-45} minutes. |
            Jeu de société familial, règles simples. | Contenu : {content}. |
            {edu_desc}. | Puzzle de {pcs} pièces, dimensions {a:30-70} x {b:20-50}
            cm. | Jeu complet, {cond_g}. | Développe la logique et la mémoire."""
        ),
        "game_kind": _w(
            """Jeu de société | Jeu de plateau | Jeu d'ambiance | Jeu de mémoire |
            Jeu de rapidité | Jeu coopératif | Loto | Jeu de dominos | Jeu de l'oie"""
        ),
        "gname": _w(
            """Le Hibou Malin | Course des Lapins | Pique-Fruits | La Chasse aux
            Monstres | Mémo Animaux | Tour Infernale | Pirates en Vue | Dino Défi |
            Le Verger Enchanté | Quiz Junior | Chrono Mots | Les Petits Chefs"""
        ),
        "brand": _w("Ludopolis | Hibou Malin | Funtastic | Kidimo | Jeux du Moulin"),
        "theme": _w(
            """animaux de la ferme | dinosaures | princesses | espace | carte du
            monde | pirates | véhicules | alphabet | océan | {franchise}"""
        ),
        "pcs": _w("24 | 35 | 48 | 60 | 100 | 150 | 200 | 500"),
        "players": _w("2 à 4 joueurs | 2 à 6 joueurs | 1 à 4 joueurs | 3 à 8 joueurs"),
        "edu": _w(
            """lecture | calcul | tables de multiplication | anglais | Montessori |
            horloge | formes et couleurs"""
        ),
        "edu_desc": _w(
            """Pour apprendre à lire en s'amusant | Apprendre les chiffres et les
            couleurs | Méthode inspirée de la pédagogie Montessori | Idéal pour
            réviser à la maison"""
        ),
        "content": _w(
            """1 plateau, 4 pions, 1 dé et 60 cartes | 48 cartes et 1 règle du jeu |
            1 plateau, 32 jetons et 1 sablier | 36 tuiles et 4 pions en bois"""
        ),
        "cond_g": _w("neuf sous blister | complet | comme neuf | jamais joué"),
    },
    # 1300 Modélisme ------------------------------------------------------------------
    "1300": {
        "titles": _w(
            """Maquette {model} {scale} - {brand} | {rc} {brand} {rc_spec} | Kit
            {model} échelle {scale} | Locomotive {loco} {rail} | {part} pour {rc} |
            {brand} {model} {scale} à monter | Drone {drone} {rc_spec} | Wagon
            {wagon} {rail} {brand}"""
        ),
        "descs": _w(
            """Maquette à assembler et à peindre, échelle {scale}. | {n:80-450}
            pièces. | Colle et peinture non incluses. | {rc_desc}. | Voie {rail},
            courant {dcc}. | Niveau de difficulté : {lvl}. | Moteur {motor}, batterie
            {battery}. | Convient aux modélistes confirmés."""
        ),
        "model": _w(
            """avion Spitfire | char Tigre | porte-avions | voilier trois-mâts |
            hélicoptère Puma | Renault 4L | camion de pompiers | cuirassé Bismarck |
            chasseur F-16 | bateau de pêche | Citroën DS | sous-marin"""
        ),
        "scale": _w("1/72 | 1/48 | 1/35 | 1/24 | 1/350 | 1/700 | 1/43 | 1/87 | 1/10"),
        "brand": _w(
            "Aerotech | Modelkit | Rail Passion | Hobbyzone | Scale Master | RC Speed"
        ),
        "rc": _w(
            """Voiture RC | Buggy RC | Crawler | Hélicoptère RC | Avion RC | Bateau
            RC | Monster truck RC"""
        ),
        "rc_spec": _w(
            """1/10 4x4 brushless | 1/16 RTR | 2.4 GHz | 4 voies | 6 axes | 60 km/h |
            FPV caméra HD | RTF"""
        ),
        "loco": _w(
            "diesel BB 67000 | vapeur 141R | électrique CC 6500 | autorail X2800"
        ),
        "wagon": _w("marchandises | voyageurs | citerne | tombereau | couvert"),
        "rail": _w("HO | N | échelle HO 1/87 | N 1/160 | O"),
        "drone": _w("quadricoptère | pliable | de course | mini"),
        "part": _w(
            """Batterie LiPo 7.4V 2200mAh | Servo métal | Moteur brushless | Jeu de
            pneus | Hélices de rechange | Radiocommande 6 voies | Variateur ESC"""
        ),
        "rc_desc": _w(
            """Prêt à rouler, radiocommande 2.4 GHz incluse | Transmission 4 roues
            motrices | Suspensions à huile réglables | Châssis aluminium renforcé"""
        ),
        "dcc": _w("continu analogique | digital DCC"),
        "lvl": _w("débutant | intermédiaire | expert | 3/5"),
        "motor": _w("brushless 3300KV | 540 à charbons | brushed 380"),
        "battery": _w("LiPo 2S | NiMH 7.2V | LiPo 3S 5000 mAh"),
    },
    # 1301 Chaussettes enfant ---------------------------------------------------------
    "1301": {
        "titles": _w(
            """Lot de {n:3-10} paires de chaussettes {kid} {motif} | Chaussettes
            {kid} {motif} taille {size} | {brand} - chaussettes {style} {kid} {size}
            | Chaussettes antidérapantes {kid} {size} | Mi-chaussettes {kid} {colour}
            {size} | Collants {kid} {colour} {size} | Lot {n:3-7} chaussettes {style}
            {motif}"""
        ),
        "descs": _w(
            """Composition : {compo}. | Lot de {n:3-10} paires assorties. | Semelle
            antidérapante pour les premiers pas. | Pointure {size}. | Bord côte non
            serrant, confortable toute la journée. | Lavage en machine à 40 °C. |
            Motifs {motif} colorés. | Coutures plates pour ne pas irriter le pied."""
        ),
        "kid": _w("enfant | bébé | fille | garçon | fille et garçon | junior"),
        "motif": _w(
            """animaux | rayures | étoiles | licorne | dinosaures | cœurs | fusées |
            {franchise} | fantaisie | pois"""
        ),
        "size": _w(
            "15-18 | 19-22 | 23-26 | 27-30 | 31-34 | 35-38 | 0-6 mois | 6-12 mois"
        ),
        "brand": _w(
            "Petits Petons | Kidisocks | Mini Pas | Chaussette Club | Pied Malin"
        ),
        "style": _w(
            "coton | hautes | basses | socquettes | sport | invisibles | thermiques"
        ),
        "compo": _w(
            """80% coton, 18% polyamide, 2% élasthanne | 75% coton bio, 25% polyester
            | coton peigné et élasthanne | laine mérinos et acrylique"""
        ),
    },
    # 1302 Jeux de plein air ----------------------------------------------------------
    "1302": {
        "titles": _w(
            """{out} {brand} {out_spec} | {out} pour enfant {out_spec} | {out}
            {colour} {kid_age} | Jeu de {lawn} en bois | {out} {out_spec} - {brand} |
            {out} de jardin {out_spec} | Ballon {colour} {kid_age} | Jeu de quilles
            géantes {kid_age}"""
        ),
        "descs": _w(
            """Pour jouer dehors tout l'été. | {out_desc}. | Poids maximum supporté :
            {kg:50-150} kg. | Structure en {mat}, résistante aux intempéries. |
            {kid_age}, sous surveillance d'un adulte. | Montage facile, notice
            incluse. | Dimensions : {a:150-430} cm."""
        ),
        "out": _w(
            """Trampoline | Balançoire | Portique | Toboggan | Cerf-volant | Pistolet
            à eau | Trottinette | Mölkky | Jeu de pétanque | Set de badminton | But
            de football | Panier de basket | Bac à sable | Maisonnette | Tipi |
            Slackline | Ballon de plage | Jeu de croquet | Frisbee | Tyrolienne"""
        ),
        "out_spec": _w(
            """305 cm avec filet | 2 places | 3 agrès | 1,80 m | 8 boules | XXL |
            pliable | réglable en hauteur | avec échelle | 430 cm | 2,5 m"""
        ),
        "lawn": _w("quilles | mölkky | croquet | palets | anneaux"),
        "brand": _w("Jardiplay | Funsport | Outdoor Kids | Soleil & Jeux | Sportivo"),
        "out_desc": _w(
            """Filet de sécurité et coussin de protection inclus | Toile anti-UV |
            Idéal pour la plage, le jardin ou le camping | Ancrage au sol fourni |
            Réservoir d'eau de 500 ml, portée de 8 mètres | Roues lumineuses LED"""
        ),
        "mat": _w("acier galvanisé | bois traité autoclave | polyéthylène | PVC"),
    },
    # 1320 Puériculture ---------------------------------------------------------------
    "1320": {
        "titles": _w(
            """{pue} {brand} {pue_spec} | {pue} {pue_spec} - {colour} | {pue} bébé
            {brand} | {pue} {colour} {baby_age} | Pack {pue} + {pue2} | {brand} {pue}
            {pue_spec} | Tapis d'éveil bébé {colour} | Hochet bébé {brand} | Doudou
            bébé {colour}"""
        ),
        "descs": _w(
            """{pue_desc}. | Convient {baby_age}. | Conforme à la norme {norm}. |
            Coloris {colour}. | Déhoussable et lavable en machine. | Sans BPA. |
            Pliage compact d'une seule main. | Poids : {kg:2-12} kg."""
        ),
        "pue": _w(
            """Poussette canne | Poussette trio | Siège auto | Lit parapluie | Chaise
            haute | Babyphone vidéo | Biberon anti-colique | Tire-lait électrique |
            Porte-bébé | Matelas à langer | Gigoteuse | Tétine | Transat bébé |
            Baignoire bébé | Stérilisateur | Chauffe-biberon | Parc bébé | Réhausseur
            | Nid d'ange | Barrière de sécurité | Sac à langer"""
        ),
        "pue2": _w(
            "ombrelle | habillage pluie | chancelière | base Isofix | sac à langer"
        ),
        "pue_spec": _w(
            """Isofix | groupe 0+/1 | pliable | 3 en 1 | réglable | 260 ml | évolutif
            | 0-36 mois | TOG 2.5 | ultra compact"""
        ),
        "brand": _w(
            "Bébécalin | Tiny Step | Nidou | Maman Zen | Petit Cocon | Babiloo"
        ),
        "baby_age": _w(
            """dès la naissance | de 0 à 6 mois | de 6 à 36 mois | jusqu'à 15 kg | de
            0 à 4 ans | 0-18 kg"""
        ),
        "norm": _w("R129 i-Size | EN 1888 | EN 716 | ECE R44/04 | EN 14988"),
        "pue_desc": _w(
            """Harnais 5 points et dossier inclinable | Écoute-bébé longue portée
            avec vision nocturne | Valve anti-colique pour limiter les régurgitations
            | Harnais sécurisé et réglable | Matelas épais pour le confort de bébé |
            Se transforme en chaise pour enfant"""
        ),
    },
    # 1560 Mobilier -------------------------------------------------------------------
    "1560": {
        "titles": _w(
            """{furn} {style} en {mat} {colour} | {furn} {mat} {dim} | {brand} -
            {furn} {style} | {furn} {n:2-6} {drawer} {mat} | Lot de {n:2-6} chaises
            {style} {colour} | {furn} {style} {colour} - {dim} | Banc {mat} {dim} |
            Fauteuil {style} {colour} | Table {mat} {colour}"""
        ),
        "descs": _w(
            """Dimensions : L{l:40-220} x P{p:30-100} x H{h:40-200} cm. | Matériau :
            {mat}. | {furn_desc}. | Montage facile, visserie et notice fournies. |
            Style {style}, s'intègre dans le salon, la chambre ou le bureau. | Charge
            maximale par étagère : {kg:10-40} kg. | Pieds en {feet}."""
        ),
        "furn": _w(
            """Table à manger | Chaise | Canapé 3 places | Commode | Armoire |
            Étagère | Bureau | Lit 140x190 | Buffet | Meuble TV | Tabouret de bar |
            Bibliothèque | Table basse | Fauteuil | Console d'entrée | Table de
            chevet | Vaisselier | Banc d'entrée | Tête de lit | Dressing | Meuble à
            chaussures"""
        ),
        "drawer": _w("tiroirs | portes | niches | étagères"),
        "mat": _w(
            """bois massif | chêne | pin | MDF | métal | velours | tissu | hêtre |
            placage noyer | acier | rotin | panneau de particules"""
        ),
        "style": _w(
            """scandinave | industriel | moderne | vintage | contemporain | rustique
            | design"""
        ),
        "dim": _w("120 cm | 160x90 cm | L80 cm | 5 niveaux | 180 cm | 90x200"),
        "brand": _w("Maison Nordik | Atelier Chêne | Home Design | Mobelo | Loft & Co"),
        "feet": _w("bois massif | métal noir | hêtre | acier chromé | compas"),
        "furn_desc": _w(
            """Plateau épais résistant aux rayures | Rangement spacieux avec tiroirs
            coulissants | Assise rembourrée en mousse haute densité | Finition
            {colour} mate | Structure stable et robuste"""
        ),
    },
    # 1920 Linge de maison ------------------------------------------------------------
    "1920": {
        "titles": _w(
            """{linen} {size_l} {fabric} {colour} | Parure de lit {size_l} {fabric}
            {motif_l} | {linen} {motif_l} {colour} {size_l} | {brand} - {linen}
            {fabric} | Lot de {n:2-6} {linen_pl} {fabric} {colour} | {linen} {size_l}
            {motif_l} | Coussin {motif_l} {colour} 45x45 cm"""
        ),
        "descs": _w(
            """Composition : {fabric}. | Dimensions : {size_l}. | {linen_desc}. |
            Lavable en machine à {t:30-60} °C. | Coloris {colour}, motif {motif_l}. |
            Densité {g:57-600} fils/cm² . | Certifié Oeko-Tex."""
        ),
        "linen": _w(
            """Housse de couette | Drap housse | Taie d'oreiller | Rideau occultant |
            Plaid | Nappe | Serviette de bain | Couette | Oreiller | Housse de
            coussin | Drap de bain | Voilage | Torchon | Chemin de table | Surmatelas
            | Peignoir | Jeté de lit | Protège-matelas"""
        ),
        "linen_pl": _w(
            """torchons | serviettes | taies d'oreiller | housses de coussin | gants
            de toilette"""
        ),
        "size_l": _w(
            """240x220 cm | 140x200 cm | 160x200 cm | 65x65 cm | 140x260 cm | 90x190
            cm | 50x70 cm | 130x170 cm | 70x140 cm"""
        ),
        "fabric": _w(
            """100% coton | percale de coton | satin de coton | microfibre | lin lavé
            | flanelle | polaire | coton bio | éponge 500 g/m² | gaze de coton"""
        ),
        "motif_l": _w(
            "uni | à rayures | fleuri | géométrique | à carreaux | jacquard | brodé"
        ),
        "brand": _w(
            "Douceur d'Intérieur | Linge des Alpes | Cotonéa | Nuit Câline | Sweet Home"
        ),
        "linen_desc": _w(
            """Fermeture par boutons pression | Bonnet de 30 cm pour matelas épais |
            Œillets argentés pour une pose facile | Toucher doux et gonflant |
            Absorbant et séchage rapide | Parure 3 pièces : housse et 2 taies"""
        ),
    },
    # 1940 Epicerie -------------------------------------------------------------------
    "1940": {
        "titles": _w(
            """{food} {brand} {qty} | {food} {label} {qty} | Lot de {n:2-12}
            {food_pl} {qty} | {brand} - {food} {flavour} {qty} | {food} {flavour}
            {label} | Coffret {gift}"""
        ),
        "descs": _w(
            """{food_desc}. | Ingrédients : {ingr}. | DLUO : {month} {yy:2024-2026}.
            | À conserver dans un endroit frais et sec. | Poids net : {qty}. |
            Origine : {origin}. | {label_cap}."""
        ),
        "food": _w(
            """Café moulu | Café en grains | Thé vert | Infusion | Chocolat noir |
            Bonbons | Confiture | Miel | Huile d'olive | Biscuits | Épices | Pâtes |
            Sirop | Sauce piquante | Caramel au beurre salé | Nougat | Riz basmati |
            Capsules de café | Poivre noir | Pâte à tartiner"""
        ),
        "food_pl": _w(
            """paquets de biscuits | tablettes de chocolat | boîtes de thé | sachets
            de bonbons | pots de miel"""
        ),
        "flavour": _w(
            """à la fraise | au citron | aux amandes | vanille | caramel | fruits
            rouges | menthe | noisette | pimenté | nature | cacao 70%"""
        ),
        "qty": _w(
            """250 g | 500 g | 1 kg | 100 g | 75 cl | 50 cl | 12 x 40 g | 1 L | 20
            sachets"""
        ),
        "label": _w("bio | artisanal | sans gluten | AOP | commerce équitable | végan"),
        "label_cap": _w(
            """Produit issu de l'agriculture biologique | Fabrication artisanale
            française | Sans conservateur ni colorant | Commerce équitable"""
        ),
        "brand": _w(
            """Maison Lemoine | Saveurs d'Antan | Délices de Provence | Café du Matin
            | Terre d'Épices | Biofruit | La Confiserie du Val"""
        ),
        "gift": _w(
            "gourmand | de thés | dégustation épices | chocolats | apéritif | de Noël"
        ),
        "ingr": _w(
            """sucre, fruits, pectine | farine de blé, beurre, sucre, œufs | pâte de
            cacao, sucre, beurre de cacao | 100% arabica | olives, sel | sucre, sirop
            de glucose, arômes naturels"""
        ),
        "origin": _w(
            "France | Italie | Espagne | Colombie | Éthiopie | Sri Lanka | Provence"
        ),
        "food_desc": _w(
            """Torréfié artisanalement en petits lots | Récolté et conditionné en
            France | Recette traditionnelle | Idéal pour le petit-déjeuner ou le
            goûter | Saveur intense et équilibrée"""
        ),
    },
    # 2060 Décoration -----------------------------------------------------------------
    "2060": {
        "titles": _w(
            """{deco} {style_d} {colour} | {deco} {mat_d} {dim_d} | {brand} - {deco}
            {style_d} | {deco} {theme_d} {dim_d} | Lot de {n:2-6} {deco_pl} {style_d}
            | {deco} {mat_d} {colour} {style_d} | Housse de coussin {theme_d} 40x40
            cm | Rideau {style_d} {colour}"""
        ),
        "descs": _w(
            """Apportez une touche {style_d} à votre intérieur. | Matière : {mat_d}.
            | Dimensions : {dim_d}. | {deco_desc}. | Idéal pour le salon, la chambre
            ou l'entrée. | Idée cadeau pour une crémaillère. | Fixations murales
            incluses."""
        ),
        "deco": _w(
            """Cadre photo | Miroir rond | Vase | Bougie parfumée | Horloge murale |
            Sticker mural | Guirlande lumineuse | Tableau sur toile | Coussin déco |
            Lampe à poser | Suspension | Photophore | Statuette bouddha | Fleurs
            artificielles | Panier en osier | Attrape-rêves | Tapis berbère |
            Lanterne | Plateau décoratif | Diffuseur de parfum"""
        ),
        "deco_pl": _w(
            "cadres | bougies | photophores | vases | crochets muraux | étiquettes"
        ),
        "mat_d": _w(
            """céramique | verre | bois flotté | métal doré | rotin | macramé | jute
            | résine | lin | bambou | laiton"""
        ),
        "style_d": _w(
            "scandinave | bohème | industrielle | vintage | zen | romantique | moderne"
        ),
        "theme_d": _w("feuillage | marine | jungle | abstrait | Paris | mer | floral"),
        "dim_d": _w(
            "30x40 cm | Ø 50 cm | 60 cm | 10 m 100 LED | 20x25 cm | 120x80 cm | H 35 cm"
        ),
        "brand": _w(
            "Lumi Déco | Maison Bohème | Déco Nature | Esprit Loft | Atelier Lumière"
        ),
        "deco_desc": _w(
            """Cire végétale, durée de combustion {h:20-60} heures | Mouvement
            silencieux | Verre soufflé à la main | Impression haute définition sur
            toile tendue | Lumière blanc chaud, fonctionne sur piles | Finition
            patinée à la main"""
        ),
    },
    # 2220 Animalerie -----------------------------------------------------------------
    "2220": {
        "titles": _w(
            """{pet_prod} | {pet_prod} {colour} | {brand} {pet_prod} | {pet_prod} -
            {brand} | Croquettes {pet} {kibble} {kg:2-15} kg | Arbre à chat
            {h:80-180} cm {colour} | {pet_prod} taille {size_p}"""
        ),
        "descs": _w(
            """Convient pour {pet} {pet_age}. | {pet_desc}. | Composition :
            {pet_compo}. | Taille {size_p}. | Lavable et facile à nettoyer. |
            Matériaux non toxiques pour votre animal. | Accessoire indispensable pour
            le bien-être de votre compagnon."""
        ),
        "pet": _w("chien | chat | chiot | chaton | petit chien | grand chien"),
        "pet_prod": _w(
            """Collier réglable pour {dog} | Laisse rétractable 5 m pour {dog} |
            Harnais anti-traction {dog} | Gamelle anti-glouton {pet} | Panier {pet}
            {pet_bed} | Coussin déhoussable pour {pet} | Niche en bois pour {dog} |
            Griffoir en carton pour chat | Litière agglomérante chat {l:5-20} L |
            Cage pour {rodent} {l:60-120} cm | Aquarium {l:20-200} litres avec filtre
            | Fontaine à eau {pet} 2 L | Jouet à mâcher en corde pour {dog} | Manteau
            imperméable {dog} | Brosse de toilettage {pet} | Friandises pour {pet} au
            poulet | Distributeur de croquettes programmable | Caisse de transport
            {pet} | Pipettes antiparasitaires {pet} | Arbre à chat {h:80-180} cm |
            Foin pour {rodent} {kg:1-5} kg | Mangeoire pour oiseaux | Hamac pour
            {rodent} | Tapis rafraîchissant {pet}"""
        ),
        "dog": _w(
            "chien | chiot | petit chien | grand chien | chien de taille moyenne"
        ),
        "rodent": _w("lapin | cochon d'Inde | hamster | furet | rongeur"),
        "pet_bed": _w("XXL | moelleux | rond | orthopédique | lavable"),
        "kibble": _w(
            """stérilisé | adulte | junior | senior | sans céréales | au poulet | au
            saumon"""
        ),
        "size_p": _w("S | M | L | XL | XS"),
        "pet_age": _w(
            "adulte | de toutes tailles | junior et adulte | senior | de petite taille"
        ),
        "brand": _w("Canino | Félino | Nutripet | Zoomalin | PetCozy | Croqu'Nature"),
        "pet_compo": _w(
            """poulet déshydraté 30%, riz, graisse animale | nylon et néoprène |
            corde de sisal naturel | céramique émaillée | saumon frais 26%, pomme de
            terre | polyester matelassé"""
        ),
        "pet_desc": _w(
            """Coussin moelleux et déhoussable pour la sieste de votre compagnon |
            Bandes réfléchissantes pour les promenades nocturnes | Favorise une bonne
            digestion et un pelage brillant | Filtre à charbon pour une eau toujours
            fraîche | Plateformes et niche pour jouer et se reposer | Fermeture
            sécurisée, poignée de transport"""
        ),
    },
    # 2280 Journaux et revues occasion ------------------------------------------------
    "2280": {
        "titles": _w(
            """{mag} n°{num:1-1500} - {month} {old_year} | {mag} N° {num:1-900}
            {old_year} | {mag} du {day:1-28} {month} {old_year} | Revue {mag}
            {old_year} - {topic} | Journal {paper} du {day:1-28} {month} {old_year} |
            {mag} n°{num:1-900} {topic} | Lot de {n:2-5} numéros {mag} {old_year} |
            {mag} {old_year}"""
        ),
        "descs": _w(
            """Revue ancienne en {used}. | Numéro {num:1-900} paru en {month}
            {old_year}. | Au sommaire : {topic}. | {mag_wear}. | Journal d'époque,
            {used}. | {pages:30-160} pages. | Complet, avec ses encarts
            publicitaires. | Idéal pour cadeau de naissance ou d'anniversaire."""
        ),
        "mag": _w(
            """L'Écho Illustré | Auto Passion | Rail Magazine | Le Petit Reporter |
            Histoire Magazine | Horizons Géo | Santé Plus | Le Pêcheur Moderne |
            Jardins d'Hier | Ciné Revue Star | Bédé Hebdo | Science Découverte | Moto
            Légende | Radio Télé Semaine | Le Chasseur Français"""
        ),
        "paper": _w(
            """Le Quotidien de l'Ouest | La Gazette du Centre | Le Journal du Soir |
            Le Républicain"""
        ),
        "topic": _w(
            """spécial Tour de France | la conquête spatiale | les grandes heures de
            la Formule 1 | mode printemps-été | la Coupe du monde | les années yé-yé
            | les trains de légende | reportage en Afrique | interview exclusive | le
            festival de Cannes | élections présidentielles"""
        ),
        "mag_wear": _w(
            """Couverture légèrement défraîchie | Pages jaunies mais complètes |
            Petite déchirure en haut de la couverture | Bon état d'ensemble | Sans le
            poster central | Traces de pliure"""
        ),
    },
    # 2403 Lots livres et magazines ---------------------------------------------------
    "2403": {
        "titles": _w(
            """Lot de {n:3-30} {lot_kind} | Lot {n:3-20} {lot_kind} {lot_theme} | Lot
            de {n:5-40} magazines {mag_l} {y1:1995-2010} à {y2:2011-2021} |
            Collection {n:10-60} {lot_kind} {lot_theme} | Lot {n:3-12} livres {genre}
            {used_short} | Lot de {n:3-15} {lot_kind} dont {book} | Lot revues
            {mag_l} | {n:3-20} magazines {mag_l} {used_short}"""
        ),
        "descs": _w(
            """Lot de {n:3-40} ouvrages vendus ensemble, {used}. | Contient notamment
            {book} de {author}. | {lot_desc}. | Pas de vente à l'unité. | Lot {used},
            {lot_wear}. | Envoi en colis, poids {kg:2-15} kg."""
        ),
        "lot_kind": _w(
            """livres | romans | romans policiers | magazines | revues | bandes
            dessinées | mangas | livres jeunesse | livres de poche | albums | BD"""
        ),
        "lot_theme": _w(
            """cuisine | jardinage | Harlequin | Bibliothèque Rose | histoire |
            voyage | science-fiction | tricot | automobile | déco | {mag_l}"""
        ),
        "mag_l": _w(
            """Géo | Science & Vie | Marie Claire Idées | Le Chasseur Français | Auto
            Passion | Rail Magazine | Horizons Géo | Modes & Travaux | Picsou"""
        ),
        "used_short": _w("occasion | bon état | TBE | à petit prix"),
        "lot_desc": _w(
            """Idéal pour bibliothèque de vacances ou boîte à livres | Liste
            détaillée des titres sur demande | Magazines se suivant, collection
            presque complète | Numéros de différentes années | Plusieurs auteurs"""
        ),
        "lot_wear": _w(
            """quelques couvertures usées | intérieur propre | traces de stockage |
            certains livres jaunis"""
        ),
    },
    # 2462 Jeux videos occasion -------------------------------------------------------
    "2462": {
        "titles": _w(
            """{game} {platform} {used_g} | {game} - {platform} - {used_g} | Jeu
            {platform} {game} {complete} | {game} {platform} ({complete}) | Lot
            {n:2-10} jeux {platform} {used_g} | {game} {platform} PAL {used_g} |
            {game} {platform} | {game} - {platform} - PAL"""
        ),
        "descs": _w(
            """Jeu {platform} d'occasion, {used}. | {complete_cap}. | Testé et
            fonctionnel. | Disque {disc}. | {cart}. | Jeu en version française PAL. |
            Boîtier légèrement rayé, {used}."""
        ),
        "platform": _w(
            """PS2 | PS3 | PS4 | Wii | Wii U | Nintendo DS | 3DS | GameCube | Xbox
            360 | PSP | Game Boy | Game Boy Advance | Nintendo 64 | Xbox | PS1 |
            Switch"""
        ),
        "used_g": _w(
            """occasion | d'occasion | bon état | très bon état | TBE | occasion
            complet | used"""
        ),
        "complete": _w(
            """complet | avec notice | sans notice | boîte et notice | CIB |
            cartouche seule | en boîte"""
        ),
        "complete_cap": _w(
            """Complet avec boîte et notice | Sans notice, boîte d'origine |
            Cartouche seule, étiquette un peu usée | Jeu complet en boîte"""
        ),
        "disc": _w(
            """sans rayure | quelques micro-rayures sans incidence | en très bon état
            | resurfacé"""
        ),
        "cart": _w(
            """Sauvegarde fonctionnelle | Contacts nettoyés | Pile de sauvegarde
            changée | Étiquette en bon état"""
        ),
    },
    # 2522 Fournitures papeterie ------------------------------------------------------
    "2522": {
        "titles": _w(
            """{paper_item} {brand} {paper_spec} | Lot de {n:2-50} {paper_pl}
            {paper_spec} | {paper_item} {paper_spec} {colour} | Cartouche d'encre
            compatible {printer} {ink} | {brand} - {paper_item} {paper_spec} | Pack
            {n:2-10} cartouches {printer} {ink}"""
        ),
        "descs": _w(
            """{paper_desc}. | Format {fmt_p}. | Grammage {g:70-300} g/m². | Idéal
            pour l'école, le bureau ou la maison. | Lot de {n:2-50} pièces. |
            Compatible avec les imprimantes {printer}. | Rentrée scolaire."""
        ),
        "paper_item": _w(
            """Cahier | Stylo bille | Classeur | Agenda | Carnet de notes | Feutres |
            Trousse | Ramette de papier | Post-it | Enveloppes | Surligneurs |
            Crayons de couleur | Règle | Gomme | Agrafeuse | Calculatrice |
            Porte-documents | Chemise à élastique | Pochette plastique | Étiquettes"""
        ),
        "paper_pl": _w(
            """stylos gel | cahiers | crayons à papier HB | surligneurs | enveloppes
            | intercalaires | pochettes perforées | marqueurs | feuilles A4"""
        ),
        "paper_spec": _w(
            """A4 | A5 | 96 pages | grands carreaux | petits carreaux | 80 g | 4
            anneaux | 2024-2025 | 500 feuilles | effaçable | 24x32 cm | pointe fine"""
        ),
        "fmt_p": _w("A4 | A5 | A3 | 17x22 cm | 21x29,7 cm | 24x32 cm"),
        "printer": _w("Epson | HP | Canon | Brother | imprimante jet d'encre"),
        "ink": _w("noir | couleur | XL | 603XL | 302 | 4 couleurs"),
        "brand": _w(
            "Papeteria | Scriptor | Clairecolor | BureauPro | Stylix | Encre & Plume"
        ),
        "paper_desc": _w(
            """Couverture polypro rigide et résistante | Encre à séchage rapide |
            Reliure spirale, feuilles détachables | Papier blanc extra lisse | Mines
            résistantes et couleurs vives | Fermeture aimantée"""
        ),
    },
    # 2582 Mobilier de jardin ---------------------------------------------------------
    "2582": {
        "titles": _w(
            """{gfurn} {gmat} {colour} | Salon de jardin {gmat} {n:4-8} places |
            {brand} - {gfurn} {gmat} | {gfurn} de jardin {gspec} | {gfurn} {gspec}
            {colour} | Lot de {n:2-6} {gfurn_pl} {gmat} | Table {gmat} {gspec} |
            Fauteuil {gmat} {colour} | Banc {gmat}"""
        ),
        "descs": _w(
            """Mobilier d'extérieur résistant aux intempéries et aux UV. | Matériau :
            {gmat}. | {gdesc}. | Coussins déhoussables inclus. | Dimensions :
            {a:60-300} x {b:50-200} cm. | Idéal pour terrasse, balcon ou bord de
            piscine. | Facile à ranger l'hiver."""
        ),
        "gfurn": _w(
            """Salon de jardin | Table de jardin | Chaise longue | Transat | Parasol
            déporté | Hamac | Banc de jardin | Bain de soleil | Tonnelle | Pergola |
            Fauteuil de jardin | Balancelle | Chaise pliante | Canapé d'angle
            extérieur | Coffre de jardin | Voile d'ombrage | Table de pique-nique"""
        ),
        "gfurn_pl": _w(
            """chaises de jardin | fauteuils empilables | coussins d'extérieur |
            bains de soleil"""
        ),
        "gmat": _w(
            """résine tressée | aluminium | teck | acacia | acier | polyrotin | fer
            forgé | bois d'eucalyptus | textilène"""
        ),
        "gspec": _w(
            """3x3 m | Ø 3 m | extensible | pliante | inclinable | 2 places | 180 cm
            | anti-UV"""
        ),
        "brand": _w(
            "Jardin Chic | Hespera | Sun Garden | Océan Terrasse | Lounge Outdoor"
        ),
        "gdesc": _w(
            """Dossier réglable en 5 positions | Toile polyester 180 g/m² déperlante
            | Plateau en verre trempé | Structure traitée anti-rouille | Coussins
            épais en mousse à séchage rapide"""
        ),
    },
    # 2583 Piscine et accessoires -----------------------------------------------------
    "2583": {
        "titles": _w(
            """{pool_prod} | {pool_prod} - {brand} | {brand} {pool_prod} | Piscine
            {pool_type} {pool_dim} | Piscine hors-sol {pool_type} {pool_dim} | Kit
            piscine {pool_type} {pool_dim} avec {pool_acc} | {pool_prod} pour piscine
            {pool_type}"""
        ),
        "descs": _w(
            """{pool_desc}. | Compatible piscines hors-sol et enterrées. | Pour
            piscine jusqu'à {m3:5-60} m³. | Livré avec {pool_acc}. | Hauteur de paroi
            {hp:90-132} cm. | Résistant au chlore et aux UV. | Garantie {g:1-3} ans.
            | Produit de traitement, respecter les précautions d'emploi."""
        ),
        "pool_prod": _w(
            """Liner 75/100e {pool_dim} | Bâche à bulles 400 µm {pool_dim} | Pompe de
            filtration {deb:2-12} m³/h | Filtre à sable {deb:4-12} m³/h | Robot de
            piscine fond et parois | Échelle de piscine {steps:2-4} marches | Galets
            de chlore 200 g - {kg:1-10} kg | Tapis de sol {pool_dim} | Skimmer pour
            piscine hors-sol | Spa gonflable {pers:2-6} personnes | Épuisette de fond
            | Douche solaire {l:20-40} L | Bâche d'hiver {pool_dim} | Réchauffeur
            électrique 3 kW | Kit d'entretien piscine | pH moins {kg:1-6} kg | Brosse
            de paroi | Flotteur diffuseur de chlore | Pompe à chaleur {kw:5-12} kW |
            Tapis de sol piscine {pool_dim} - protection liner"""
        ),
        "pool_type": _w(
            """tubulaire | autoportante | bois | acier | gonflable | ronde | ovale |
            enterrée"""
        ),
        "pool_dim": _w(
            """3x3 m | Ø 3,66 x 0,76 m | 4,57 x 1,22 m | 6 x 3,2 m | 8x4 m | Ø 4,60 m
            | 5 x 3 m | Ø 3,05 m | 7,3 x 3,75 m"""
        ),
        "pool_acc": _w(
            """pompe et échelle | filtre à cartouche | bâche et tapis de sol | kit
            d'entretien | épuisette et thermomètre"""
        ),
        "brand": _w("Aqualux | Piscinéo | BlueWave | AquaLoisir | PoolMaster"),
        "pool_desc": _w(
            """Protège le liner des pierres et racines | Nettoie fond, parois et
            ligne d'eau | Chlore lent multi-actions | Réduit l'évaporation et garde
            la chaleur | Installation sans outil en moins de 30 minutes | Filtration
            efficace pour une eau claire | Diffusion régulière du produit pendant 7
            jours"""
        ),
    },
    # 2585 Outillage de jardin --------------------------------------------------------
    "2585": {
        "titles": _w(
            """{tool} {power} {brand} | {tool} {power} {tool_spec} | {brand} - {tool}
            {tool_spec} | {tool} {tool_spec} | {tool} sans fil {volt} + batterie |
            {tool} professionnel {tool_spec}"""
        ),
        "descs": _w(
            """{tool_desc}. | Puissance {power}. | Batterie {volt} {ah:2-5} Ah
            incluse. | Poignée ergonomique antidérapante. | Garantie {g:2-5} ans. |
            Pour l'entretien des jardins de {m2:100-1500} m². | Livré avec chargeur
            rapide."""
        ),
        "tool": _w(
            """Tondeuse | Taille-haie | Débroussailleuse | Tuyau d'arrosage |
            Sécateur | Pelle | Râteau | Souffleur de feuilles | Brouette |
            Scarificateur | Tronçonneuse | Coupe-bordure | Motobineuse | Broyeur de
            végétaux | Arrosoir | Enrouleur de tuyau | Cisaille à gazon | Bêche |
            Élagueuse | Pistolet d'arrosage | Fourche"""
        ),
        "power": _w(
            "thermique 140 cc | électrique 1200 W | 18V | 36V | 1600 W | 2200 W | 40V"
        ),
        "volt": _w("18V | 20V | 36V | 40V"),
        "tool_spec": _w(
            """coupe 42 cm | 25 m | lame 55 cm | 100 L | guide 40 cm | largeur 32 cm
            | acier trempé | bac 50 L | tête Ø 18 mm | manche bois"""
        ),
        "brand": _w("Verdo | GreenForce | JardiPro | Bricomax | TerraTool | Agrimat"),
        "tool_desc": _w(
            """Lame double action en acier trempé | Hauteur de coupe réglable sur 6
            positions | Moteur puissant démarrage facile | Tuyau anti-torsion et
            anti-UV | Idéal pour le potager et les massifs | Bac de ramassage grande
            capacité"""
        ),
    },
    # 2705 Livres neufs ---------------------------------------------------------------
    "2705": {
        "titles": _w(
            """{book} | {book} - {author} | {book} - Tome {t:1-6} | {book} ({fmt_n})
            | {book} - {author} - {publisher} | {book}: {subtitle} | {book} - Edition
            {ed_n} | {book} {author} | {book} - {fmt_n}"""
        ),
        "descs": _w(
            """{synopsis} | Un {genre} {praise}. | {author} signe ici {praise2}. |
            Parution : {month} {yy:2019-2024}. | {fmt_n}, {pages:150-700} pages. |
            {synopsis} | Prix {prize}. | Livre neuf expédié sous 48h."""
        ),
        "fmt_n": _w(
            "Broché | Relié | Poche | Grand format | Beau livre | Format Kindle broché"
        ),
        "subtitle": _w(
            """roman | une enquête du commissaire {last} | récit | mémoires | la
            méthode complète | guide illustré"""
        ),
        "ed_n": _w("illustrée | collector | augmentée | 2023 | 2024 | de luxe"),
        "praise": _w(
            """bouleversant | haletant | lumineux | plein d'humour | inoubliable |
            déjà culte"""
        ),
        "praise2": _w(
            """son roman le plus personnel | un récit poignant | une enquête
            magistrale | un ouvrage de référence"""
        ),
        "prize": _w(
            """des lecteurs {yy:2018-2023} | du premier roman | Goncourt des lycéens
            (sélection) | du polar {yy:2019-2023}"""
        ),
    },
    # 2905 Jeux PC --------------------------------------------------------------------
    "2905": {
        "titles": _w(
            """{game} - PC | {game} PC {media} | Jeu PC {game} | {game} - {pc_ed} -
            PC | {game} (PC/Mac) | {game} PC Windows {media} | {game} | {game}
            {pc_ed}"""
        ),
        "descs": _w(
            """Jeu PC en version française. | Configuration minimale : {cpu},
            {ram:4-16} Go de RAM, {gpu}. | Compatible Windows {win}. | {media_desc}.
            | {pc_desc}. | Espace disque requis : {disk:10-120} Go. | Connexion
            internet requise pour l'activation."""
        ),
        "media": _w(
            """DVD-ROM | CD-ROM | code de téléchargement | clé Steam | boîte DVD |
            version boîte | jewel case"""
        ),
        "pc_ed": _w(
            "Edition Gold | Edition Jeu de l'année | Pack extension | Edition Collector"
        ),
        "cpu": _w("Intel Core i5 | AMD Ryzen 5 | Intel Core 2 Duo | processeur 2 GHz"),
        "gpu": _w(
            "GeForce GTX 1060 | Radeon RX 580 | carte graphique DirectX 11 | GTX 970"
        ),
        "win": _w("7, 8, 10 | 10 / 11 | XP / Vista | 10 64 bits"),
        "media_desc": _w(
            """Livré en boîte avec DVD-ROM et notice | Code d'activation envoyé par
            email | Jeu dématérialisé, clé à activer sur la plateforme | CD-ROM en
            bon état"""
        ),
        "pc_desc": _w(
            """Jeu de stratégie en temps réel | Simulation de gestion | Jeu de rôle
            en monde ouvert | Jeu de tir à la première personne | Jeu d'aventure
            point and click | Simulateur de vol"""
        ),
    },
}

_SLOT = re.compile(r"\{([a-z0-9_]+)(?::(\d+)-(\d+))?\}")
_MAX_DEPTH = 4

# Sentence separators (real feeds mix plain spaces, HTML line breaks and newlines).
_LONG_DESC_SEPARATORS = (" ",) * 7 + ("<br/>", "<br />", " <br>", "\n")
_ENTITIES = (("'", "&#39;"), (" & ", " &amp; "), ("\u00e9", "&eacute;"))


def _fill(
    template: str,
    vocab: dict[str, tuple[str, ...]],
    rng: random.Random,
    chosen: dict[str, str],
) -> str:
    """Replace every ``{slot}`` of *template* with a random entry from *vocab*.

    *chosen* remembers the value drawn for each slot so that a listing stays
    coherent: its title and description name the same platform, size, colour...
    """

    def pick(match: re.Match[str]) -> str:
        name, low, high = match.groups()
        if name not in chosen:
            if low is not None:
                chosen[name] = str(rng.randint(int(low), int(high)))
            else:
                chosen[name] = rng.choice(vocab.get(name) or _SHARED[name])
        return chosen[name]

    text = template
    for _ in range(_MAX_DEPTH):
        if "{" not in text:
            break
        text = _SLOT.sub(pick, text)
    return re.sub(r"\s+", " ", text).strip(" -")


def _vary_case(title: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return title.upper()
    if roll < 0.13:
        return title.lower()
    if roll < 0.18:
        return title.title()
    return title[:1].upper() + title[1:]


def _htmlise(text: str, rng: random.Random) -> str:
    """Add the HTML fragments and entities that real marketplace feeds carry."""
    roll = rng.random()
    if roll < 0.06:
        text = f"<p>{text}</p>"
    elif roll < 0.09 and len(text) < 80:
        text = f"<b>{text}</b>"
    if rng.random() < 0.1:
        old, new = rng.choice(_ENTITIES)
        text = text.replace(old, new)
    return text


def _description(
    spec: dict[str, tuple[str, ...]], rng: random.Random, chosen: dict[str, str]
) -> str:
    roll = rng.random()
    if roll < 0.15:
        return ""
    if roll < 0.3:
        # A vague seller's note that could belong to any category.
        picks = rng.sample(_SHARED["generic"], rng.choice((1, 1, 2)))
        return _htmlise(" ".join(picks), rng)
    count = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
    templates = rng.sample(spec["descs"], min(count, len(spec["descs"])))
    sentences = [_fill(template, spec, rng, chosen) for template in templates]
    if rng.random() < 0.4:
        sentences.append(rng.choice(_SHARED["ship"]))
    separator = rng.choice(_LONG_DESC_SEPARATORS)
    return _htmlise(separator.join(sentences), rng)


def _listing(spec: dict[str, tuple[str, ...]], rng: random.Random, seen: set[str]):
    """Draw one (title, description) pair, retrying a few times on a repeated title."""
    for _attempt in range(8):
        chosen: dict[str, str] = {}
        title = _vary_case(_fill(rng.choice(spec["titles"]), spec, rng, chosen), rng)
        if title.casefold() not in seen:
            break
    seen.add(title.casefold())
    return title, _description(spec, rng, chosen)


def generate_demo_rows(
    *, per_category: int = 40, unlabelled_per_category: int = 4, seed: int = 0
) -> list[dict[str, str]]:
    """Return synthetic listings: *per_category* labelled rows per product type, plus
    *unlabelled_per_category* rows with an empty ``category`` (the pool that feeds
    "propose a product").

    Each row is a dict with keys ``product_id`` (``demo-<code>-<n>``), ``title``,
    ``description``, ``category`` (the code as a string, or ``""``) and ``image``
    (always ``""``).  The same arguments always give the same rows.
    """
    if per_category < 0 or unlabelled_per_category < 0:
        raise ValueError("row counts must be non-negative")
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for code, _name in DEMO_CATEGORIES:
        spec = _SPECS[code]
        seen: set[str] = set()
        for n in range(per_category + unlabelled_per_category):
            title, description = _listing(spec, rng, seen)
            rows.append(
                {
                    "product_id": f"demo-{code}-{n}",
                    "title": title,
                    "description": description,
                    "category": code if n < per_category else "",
                    "image": "",
                }
            )
    return rows


def write_demo_csv(path: str | PathLike[str], **kwargs: int) -> int:
    """Write :func:`generate_demo_rows` (called with *kwargs*) to *path* as UTF-8 CSV
    with header ``product_id,title,description,category,image``; return the row count.
    """
    rows = generate_demo_rows(**kwargs)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
