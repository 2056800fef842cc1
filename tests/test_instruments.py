import pytest

from jointist import instruments as ins


def test_every_program_maps_to_exactly_one_class():
    for program in range(128):
        owners = [inst.index for inst in ins.INSTRUMENTS if program in inst.programs]
        assert len(owners) == 1, (program, owners)
        assert ins.by_program(program).index == owners[0]
    assert ins.NUM_CLASSES == 39
    assert [i.index for i in ins.INSTRUMENTS] == list(range(39))


def test_drum_tracks_are_class_38_whatever_the_program():
    assert ins.by_program(0, is_drum=True).index == 38
    assert ins.by_program(127, is_drum=True).name == "Drums"
    assert ins.DRUMS.is_drum and not ins.DRUMS.programs


def test_known_programs_and_representatives():
    assert ins.by_program(33).name == "Bass"
    assert ins.by_program(55).name == "Strings"  # orchestra hit is grouped with strings
    assert ins.by_program(69).name == "Horn"  # English horn sits with horns in Jointist's map
    assert ins.by_program(22).name == "Harmonica"
    assert ins.by_program(23).name == "Accordion"
    assert ins.by_index(10).program == 32
    assert ins.by_index(15).program == 44
    assert ins.by_index(38).program == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("piano", "Piano"),
        ("PIANO", "Piano"),
        ("Electric Bass", "Bass"),
        ("bass", "Bass"),
        ("e-guitar", "Electric Guitar"),
        ("Electric_Guitar", "Electric Guitar"),
        ("drums", "Drums"),
        ("Acoustic Grand Piano", "Piano"),
        ("Electric Bass (finger)", "Bass"),
        ("synth pad", "Synth Pad"),
        ("saxophones", "Saxophone"),
        ("10", "Bass"),
        (38, "Drums"),
    ],
)
def test_lookup_by_name_is_forgiving(name, expected):
    assert ins.by_name(name).name == expected


def test_unknown_name_lists_valid_names():
    with pytest.raises(ins.UnknownInstrumentError) as err:
        ins.by_name("kazoo")
    message = str(err.value)
    assert "kazoo" in message
    for slug in ("piano", "electric_guitar", "bass", "drums", "sound_effects"):
        assert slug in message
    with pytest.raises(ins.UnknownInstrumentError):
        ins.by_index(39)


def test_parse_instruments_lists_and_all():
    assert [i.name for i in ins.parse_instruments(["piano", "bass", "Piano"])] == ["Piano", "Bass"]
    assert [i.name for i in ins.parse_instruments("[drums, e-guitar]")] == ["Drums", "Electric Guitar"]
    assert len(ins.parse_instruments("all")) == 39
    with pytest.raises(ins.UnknownInstrumentError, match="empty"):
        ins.parse_instruments([])
    with pytest.raises(ins.UnknownInstrumentError, match="valid names"):
        ins.parse_instruments(["piano", "theremin"])


def test_mt3_program_granularities():
    assert ins.program_for_granularity(35, "flat") == 0
    assert ins.program_for_granularity(35, "midi_class") == 32
    assert ins.program_for_granularity(47, "midi_class") == 40
    assert ins.program_for_granularity(35, "full") == 35
    assert ins.program_for_granularity(35, "jointist") == 32
    assert ins.program_for_granularity(50, "jointist") == 44
    with pytest.raises(ValueError, match="granularity"):
        ins.program_for_granularity(1, "coarse")
    with pytest.raises(ValueError):
        ins.program_for_granularity(128, "full")
